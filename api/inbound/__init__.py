"""Commands in from a broker (issue 12): the messages (``messages``), what each does
(``handling``), what becomes of one that fails (``verdicts``), and the consumer that
takes them from the project's queue (``consumer``)."""
