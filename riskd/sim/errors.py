"""Binance error answers: HTTP status, code and the exact message templates."""

from __future__ import annotations


class BinanceError(Exception):
    """An error the simulator answers as ``{"code": code, "msg": msg}`` with ``http_status``."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def illegal_chars(name: str) -> BinanceError:
    return BinanceError(
        -1100,
        f"Illegal characters found in parameter '{name}'; "
        "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    )


def either_param(first: str, second: str) -> BinanceError:
    return BinanceError(
        -1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!"
    )


INVALID_SYMBOL = BinanceError(-1121, "Invalid symbol.")
INVALID_INTERVAL = BinanceError(-1120, "Invalid interval.")
INVALID_ALGO_TYPE = BinanceError(-1116, "Invalid algoType.")
INVALID_CALLBACK_RATE = BinanceError(-2007, "Invalid callbackRate.")
INVALID_SIDE = BinanceError(-1117, "Invalid side.")
INVALID_TYPE = BinanceError(-1116, "Invalid orderType.")
INVALID_TIF = BinanceError(-1115, "Invalid timeInForce.")
INVALID_WORKING_TYPE = BinanceError(-1102, "Invalid workingType.")
BAD_PRECISION = BinanceError(-1111, "Precision is over the maximum defined for this asset.")
BAD_LIMIT = BinanceError(-1130, "Data sent for parameter 'limit' is not valid.")
UNKNOWN_ORDER = BinanceError(-2011, "Unknown order sent.")
NO_SUCH_ORDER = BinanceError(-2013, "Order does not exist.")
MARGIN_INSUFFICIENT = BinanceError(-2019, "Margin is insufficient.")
WOULD_TRIGGER = BinanceError(-2021, "Order would immediately trigger.")
REDUCE_ONLY_REJECT = BinanceError(-2022, "ReduceOnly Order is rejected.")
MAX_OPEN_ORDERS = BinanceError(-2025, "Reach max open order limit.")
QTY_NOT_POSITIVE = BinanceError(-4003, "Quantity less than or equal to zero.")
PRICE_BELOW_MIN = BinanceError(-4013, "Price less than min price.")
PRICE_ABOVE_MAX = BinanceError(-4012, "Price greater than max price.")
PRICE_TICK = BinanceError(-4014, "Price not increased by tick size.")
PRICE_ABOVE_MULTIPLIER = BinanceError(-4016, "Price is higher than mark price multiplier cap.")
QTY_STEP = BinanceError(-4023, "Qty not increased by step size.")
PRICE_BELOW_MULTIPLIER = BinanceError(-4024, "Price is lower than mark price multiplier floor.")
MAX_STOP_ORDERS = BinanceError(-4045, "Reach max stop order limit.")
NO_NEED_TO_CHANGE_SIDE = BinanceError(-4059, "No need to change position side.")
POSITION_SIDE_MISMATCH = BinanceError(-4061, "Order's position side does not match user's setting.")
SIDE_CHANGE_WITH_ORDERS = BinanceError(
    -4067, "Position side cannot be changed if there exists open orders."
)
SIDE_CHANGE_WITH_POSITION = BinanceError(
    -4068, "Position side cannot be changed if there exists position."
)
BATCH_SIZE = BinanceError(-4082, "Invalid number of batch place orders.")
BATCH_CANCEL_SIZE = BinanceError(-4082, "Invalid number of batch cancel orders.")
DUPLICATE_CLIENT_ID = BinanceError(-4116, "ClientOrderId is duplicated.")
STOP_ORDER_SWITCH_ALGO = BinanceError(
    -4120,
    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
)
MARKET_PERCENT_PRICE = BinanceError(
    -4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit."
)
QUANTITATIVE_RULES = BinanceError(
    -4400,
    "Futures Trading Quantitative Rules violated, only reduceOnly order is allowed, "
    "please try again later.",
)
FOK_REJECT = BinanceError(
    -5021, "Due to the order could not be filled immediately, the FOK order has been rejected."
)
GTX_REJECT = BinanceError(
    -5022,
    "Due to the order could not be executed as maker, the Post Only order will be rejected.",
)
LISTEN_KEY_INVALID = BinanceError(
    -1125,
    "This listenKey does not exist. Please use `POST /fapi/v1/listenKey` to recreate `listenKey`",
)


def min_notional(notional: str) -> BinanceError:
    return BinanceError(
        -4164,
        f"Order's notional must be no smaller than {notional} (unless you choose reduce only).",
    )


def qty_below_min(min_qty: str) -> BinanceError:
    return BinanceError(-4005, f"Quantity less than min quantity {min_qty}.")


def qty_above_max(max_qty: str) -> BinanceError:
    return BinanceError(-4006, f"Quantity greater than max quantity {max_qty}.")


NO_NEED_TO_CHANGE_MARGIN_TYPE = BinanceError(-4046, "No need to change margin type.")
MARGIN_TYPE_WITH_ORDERS = BinanceError(
    -4047, "Margin type cannot be changed if there exists open orders."
)
MARGIN_TYPE_WITH_POSITION = BinanceError(
    -4048, "Margin type cannot be changed if there exists position."
)
MAX_POSITION_AT_LEVERAGE = BinanceError(
    -2027, "Exceeded the maximum allowable position at current leverage."
)
LEVERAGE_MARGIN_INSUFFICIENT = BinanceError(
    -2028, "Leverage is smaller than permitted: insufficient margin balance."
)
ONLY_LIMIT_MODIFY = BinanceError(-5025, "Only limit order is supported.")
NO_NEED_TO_MODIFY = BinanceError(-5027, "No need to modify the order.")
START_AFTER_END = BinanceError(-1023, "Start time is greater than end time.")
PARAMETER_COMBINATION = BinanceError(-1128, "Combination of optional parameters invalid.")


def invalid_leverage(leverage: int) -> BinanceError:
    return BinanceError(-4028, f"Leverage {leverage} is not valid")


def window_too_long(hours: int) -> BinanceError:
    return BinanceError(-1127, f"More than {hours} hours between startTime and endTime.")
