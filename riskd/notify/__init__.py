"""Where alerts go: Feishu (an app's chat messages or a custom bot's webhook) and the console.

Receivers send one rendered :class:`~riskd.notify.receiver.Message` each; lark-oapi is imported
only by ``riskd.notify.lark_app``, which only the Alerter's process loads.
"""
