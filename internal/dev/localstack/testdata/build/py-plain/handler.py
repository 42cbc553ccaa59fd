def handle(event, context):
    """Answers the body's length as JSON."""
    return {"statusCode": 200, "body": {"py": len(event.body), "method": event.method}}
