"""The marketing layer: campaigns, their audiences under a budget, reasons, messages and offline lift."""
