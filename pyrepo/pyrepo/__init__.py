"""pyrepo: lock, fetch, index, serve and check the appliance's offline Python package mirror."""

__version__ = "0.1.0"
