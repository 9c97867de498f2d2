"""Subcommands of the ``keras-har`` command line; see ``keras_har.cli``."""
