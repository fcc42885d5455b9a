"""mindshare: personalised recommendations and campaign audiences, tracked end to end."""

__version__ = "0.1.0"
