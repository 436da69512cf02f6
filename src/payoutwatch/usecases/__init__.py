"""What a person or a process does: ingest, sync, evaluate, deliver, ping, act on alerts, tokens, backtest, exports.

Each use case owns its transaction and its audit row; the CLI, the API and the pages only parse input,
call one of these and render its result.
"""
