"""The FMZ "universal protocol" (通用协议), pure: riskd answers the FMZ docker at
``POST /fmz/{label}`` as an exchange whose keys are a robot's name and token.

- :mod:`riskd.fmz.request` reads and checks what the docker sends (:func:`parse_request`);
- :mod:`riskd.fmz.symbols` translates FMZ symbols and order ids to Binance's and back;
- :mod:`riskd.fmz.answers` builds the ``data`` the docker expects from riskd's records.

Nothing here touches the network, aiohttp or Ray: the gateway's route and the order path do.
"""
