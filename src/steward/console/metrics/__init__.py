"""Console metrics pages: the fleet overview and the device charts (see charts.js)."""
