"""Request and response models of the HTTP API, one module per router (``api/routes/``);
the bases, lists, problems and example helpers they share are in ``common``."""
