"""Exchange access: python-binance wrapper, weight table, budgets, egress, errors."""
