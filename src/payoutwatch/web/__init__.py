"""The web front-end: ``app.create_app`` (middleware, state), ``deps`` (who, may they, as of when),
``api/`` and ``pages/`` (one router per area), ``charts`` (server-rendered SVG), ``templates/``."""
