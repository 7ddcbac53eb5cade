"""The logic of the app: functions that own their transactions and know no Flask request."""
