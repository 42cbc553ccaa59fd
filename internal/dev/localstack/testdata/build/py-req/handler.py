import requests


def handle(event, context):
    """Reports the requests package's major version (the import is the test)."""
    return "py-req " + requests.__version__.split(".")[0]
