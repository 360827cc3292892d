"""Robots trading through riskd: who they are, what they may do (the pre-trade gate), and what
riskd decided for each order they sent."""
