"""Payment providers behind one interface (``base.PaymentProvider``): Stripe, Paddle,
YooKassa and the built-in stub. ``registry.build_provider`` picks one from settings;
docs/providers.md explains configuration, event mapping and adding a provider."""
