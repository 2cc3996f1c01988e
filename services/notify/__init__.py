"""The notification service: tells staff and customers, by e-mail, signed webhooks and SMS."""
