"""Alerts: rules a city admin writes as JSON, evaluated as data arrives, notified by signed webhooks."""
