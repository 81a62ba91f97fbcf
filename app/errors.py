"""One family of errors: a `DomainError` carries the HTTP status, a machine-readable error code, the
field at fault and a message. Domain code raises them; nothing catches them to re-shape them; the one
place that turns them into answers is app/errorhandlers.py. No Flask here.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with an HTTP status, a machine-readable error code, the field at fault and a message."""

    status = 400
    error = "invalid_input"

    def __init__(self, message: str, field: str | None = None, *, status: int | None = None,
                 error: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        if error is not None:
            self.error = error
        self.extra = extra

    def as_dict(self) -> dict:
        """JSON-ready body: `message` in English, `message_zh` in Chinese (the raiser's own words, else the
        Chinese for the error code, naming the field, with the English detail after it)."""
        body: dict = {"error": self.error}
        if self.field is not None:
            body["field"] = self.field
        extra = dict(self.extra)
        return {**body, "message": self.message, "message_zh": extra.pop("message_zh", None) or chinese(self),
                **extra}


# The Chinese for each error code (and, failing that, each status): what the consoles show.
ZH_ERRORS = {
    "invalid_input": "输入有误", "invalid_body": "请求内容格式有误", "missing_field": "缺少必填项",
    "invalid_text": "文字中含有不允许的字符", "invalid_crs": "坐标系不正确", "invalid_coordinates": "坐标不正确",
    "invalid_layer": "图层不正确", "unknown_layer": "没有这个图层", "not_found": "未找到",
    "unauthorized": "请先登录（或提供有效的访问令牌）", "forbidden": "无权执行此操作",
    "csrf": "页面已过期，请刷新后重试",
    "stale_version": "案件已被他人更新，请刷新后重试", "stale_base": "辖区已被他人修改，请重新载入后再改",
    "case_closed": "案件已办结，不能再操作", "only_report": "这是案件唯一的上报，不能拆分",
    "illegal": "当前状态下不能执行此操作", "idempotency_key_reused": "同一请求编号已用于另一份上报",
    "no_roads": "尚未载入道路网", "no_boundaries": "尚未载入边界", "unreachable": "无法经道路到达",
    "address_not_found": "未找到该地址", "address_ambiguous": "地址不唯一，请补充门牌或小区",
    "too_large": "内容过大", "unavailable": "数据库暂时不可用，请稍后重试", "user_refused": "账号操作被拒绝",
    "method_not_allowed": "不支持此请求方法", "open311": "Open311 请求有误",
}
ZH_STATUS = {400: "请求有误", 401: "请先登录", 403: "无权执行此操作", 404: "未找到", 409: "与当前数据冲突",
             413: "内容过大", 422: "输入不被接受", 429: "尝试过于频繁，请稍后再试", 503: "服务暂时不可用，请稍后重试"}


def chinese(error: DomainError) -> str:
    """A Chinese message for an error that brought none: the code's words, the field, the English detail."""
    head = ZH_ERRORS.get(error.error) or ZH_STATUS.get(error.status, "请求未能完成")
    field = f"（{error.field}）" if error.field else ""
    return f"{head}{field}：{error.message}"


class InputError(DomainError):
    """Something the caller sent is wrong: `field` names it; 400 when malformed, 422 when refused."""

    status = 422

    def __init__(self, field: str, message: str, status: int = 422, error: str = "invalid_input",
                 **extra: object) -> None:
        super().__init__(message, field, status=status, error=error, **extra)


class NotFound(DomainError):
    """No such record: 404."""

    status = 404
    error = "not_found"

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"no {what} {key!r}")


class Conflict(DomainError):
    """The request clashes with the current state (a stale version, a reused key...): 409."""

    status = 409

    def __init__(self, error: str, message: str, **extra: object) -> None:
        super().__init__(message, error=error, **extra)


class Forbidden(DomainError):
    """The caller's role or scope does not allow this: 403."""

    status = 403
    error = "forbidden"


class Unauthorized(DomainError):
    """The caller is not signed in: 401."""

    status = 401
    error = "unauthorized"
