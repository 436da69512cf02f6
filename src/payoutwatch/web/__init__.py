"""The web front-end: ``app.create_app`` (middleware, state), ``deps`` (who, may they, as of when),
``api/`` and ``pages/`` (one router per area), ``charts`` and ``dashboard_charts`` (chart data drawn in the
browser by ``static/charts.js`` with the vendored uPlot in ``static/vendor/``), ``templates/``."""
