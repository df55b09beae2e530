"""speechkit: clean, index and analyse scraped Chinese political speeches."""

__version__ = "0.2.0"
