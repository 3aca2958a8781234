"""Problem messages for playbooks and dossiers, in English and Vietnamese side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEMS: dict[str, dict[str, str]] = {
    "yaml": {"en": "not valid YAML: {error}", "vi": "không phải YAML hợp lệ: {error}"},
    "not_mapping": {"en": "expected a mapping for {what}", "vi": "{what} phải là một ánh xạ (mapping)"},
    "not_list": {"en": "expected a list for {what}", "vi": "{what} phải là một danh sách"},
    "missing": {"en": "missing required key '{key}'", "vi": "thiếu khóa bắt buộc '{key}'"},
    "unknown_key": {"en": "unknown key '{key}' in {what}", "vi": "khóa không hợp lệ '{key}' trong {what}"},
    "bad_value": {"en": "{what}: {why}", "vi": "{what}: {why}"},
    "unknown_kind": {
        "en": "unknown playbook kind '{value}' (expected dossier or incident)",
        "vi": "loại playbook không hợp lệ '{value}' (cần dossier hoặc incident)",
    },
    "unknown_state": {"en": "unknown state '{name}'", "vi": "trạng thái không tồn tại '{name}'"},
    "unreachable_state": {
        "en": "state '{name}' cannot be reached from the initial state",
        "vi": "không thể đến trạng thái '{name}' từ trạng thái ban đầu",
    },
    "no_exit": {
        "en": "states {names} form a cycle or dead end with no way to a final state",
        "vi": "các trạng thái {names} tạo vòng lặp hoặc ngõ cụt không dẫn tới trạng thái kết thúc",
    },
    "terminal_has_exit": {
        "en": "final state '{name}' has an outgoing transition '{transition}'",
        "vi": "trạng thái kết thúc '{name}' lại có chuyển tiếp '{transition}'",
    },
    "no_terminal": {"en": "no state is marked final", "vi": "không có trạng thái kết thúc nào"},
    "unknown_role": {"en": "unknown role '{name}'", "vi": "vai trò không tồn tại '{name}'"},
    "unknown_guard": {"en": "unknown guard '{name}'", "vi": "điều kiện kiểm tra không tồn tại '{name}'"},
    "unknown_document": {
        "en": "unknown document kind '{name}'",
        "vi": "loại tài liệu không tồn tại '{name}'",
    },
    "unknown_form": {"en": "unknown form '{name}'", "vi": "biểu mẫu không tồn tại '{name}'"},
    "unknown_body": {"en": "unknown body '{name}'", "vi": "đơn vị không tồn tại '{name}'"},
    "unknown_level": {
        "en": "unknown security level '{name}' (expected L1 to L5)",
        "vi": "cấp độ không hợp lệ '{name}' (cần L1 đến L5)",
    },
    "unknown_transition": {"en": "unknown transition '{name}'", "vi": "chuyển tiếp không tồn tại '{name}'"},
    "duplicate_transition": {
        "en": "transition '{name}' is declared twice",
        "vi": "chuyển tiếp '{name}' bị khai báo hai lần",
    },
    "missing_routing": {
        "en": "transition '{transition}' acts as '{slot}' but routing has no '{slot}' for {levels}",
        "vi": "chuyển tiếp '{transition}' dùng vai '{slot}' nhưng định tuyến không có '{slot}' cho {levels}",
    },
    "missing_anchor": {
        "en": "deadline '{name}' has no anchor event",
        "vi": "thời hạn '{name}' không có sự kiện mốc tính",
    },
    "unknown_anchor": {
        "en": "deadline '{name}' counts from unknown event '{anchor}'",
        "vi": "thời hạn '{name}' tính từ sự kiện không tồn tại '{anchor}'",
    },
    "deadline_length": {
        "en": "deadline '{name}' needs exactly one of working_days or hours",
        "vi": "thời hạn '{name}' cần đúng một trong working_days hoặc hours",
    },
    "no_documents_for_guard": {
        "en": "transition '{name}' checks required documents but required_documents has none for it",
        "vi": "chuyển tiếp '{name}' kiểm tra tài liệu bắt buộc nhưng required_documents không khai báo",
    },
    "escalate_target": {
        "en": "deadline '{name}' escalates to '{target}', which is neither a routing slot nor a role",
        "vi": "thời hạn '{name}' chuyển cấp tới '{target}', không phải vai định tuyến hay vai trò",
    },
    "two_defaults": {
        "en": "more than one default {kind} playbook: {names}",
        "vi": "có nhiều hơn một playbook {kind} mặc định: {names}",
    },
    "duplicate_id": {
        "en": "playbook id '{name}' is also used by {other}",
        "vi": "id playbook '{name}' trùng với {other}",
    },
}


@dataclass(frozen=True)
class Problem:
    """One problem in a playbook, rendered as `path:line: message` in the reader's language."""

    path: str
    line: int
    key: str
    args: tuple[tuple[str, Any], ...] = ()

    def render(self, lang: str = "en") -> str:
        template = PROBLEMS[self.key]
        return f"{self.path}:{self.line}: " + (template.get(lang) or template["en"]).format(**dict(self.args))


def problem(path: str, line: int, message: str, **args: Any) -> Problem:
    return Problem(path, line, message, tuple(sorted(args.items())))


ERRORS: dict[str, dict[str, str]] = {
    "not_found": {"en": "dossier {id} not found", "vi": "không tìm thấy hồ sơ {id}"},
    "forbidden": {
        "en": "{user} may not {action} dossier {id}",
        "vi": "{user} không có quyền {action} hồ sơ {id}",
    },
    "stale": {
        "en": "dossier {id} changed since you opened it (version {seen}, now {current}); reload and retry",
        "vi": "hồ sơ {id} đã thay đổi từ khi bạn mở (phiên bản {seen}, nay {current}); tải lại và thử lại",
    },
    "not_allowed_here": {
        "en": "'{transition}' is not possible from state '{state}'",
        "vi": "không thể thực hiện '{transition}' từ trạng thái '{state}'",
    },
    "not_for_level": {
        "en": "'{transition}' does not apply to level L{level}",
        "vi": "'{transition}' không áp dụng cho cấp độ L{level}",
    },
    "comment_required": {
        "en": "'{transition}' needs a comment",
        "vi": "'{transition}' cần có ý kiến/ghi chú",
    },
    "missing_documents": {
        "en": "documents missing for level L{level}: {kinds}",
        "vi": "thiếu tài liệu bắt buộc cho cấp độ L{level}: {kinds}",
    },
    "no_security_regulation": {
        "en": "the security regulation of {systems} has not been issued",
        "vi": "chưa ban hành quy chế bảo đảm an toàn thông tin cho {systems}",
    },
    "appraiser_is_operator": {
        "en": "the appraiser must be independent of the operating unit of {systems}",
        "vi": "đơn vị thẩm định phải độc lập với đơn vị vận hành {systems}",
    },
    "bad_input": {"en": "{what}: {why}", "vi": "{what}: {why}"},
    "upload_too_large": {
        "en": "file is {size} bytes, over the limit of {limit}",
        "vi": "tệp có {size} byte, vượt giới hạn {limit}",
    },
    "upload_type": {
        "en": "file type '{ext}' is not accepted (allowed: {allowed})",
        "vi": "không chấp nhận loại tệp '{ext}' (cho phép: {allowed})",
    },
    "upload_content": {
        "en": "file content does not match its type '{ext}'",
        "vi": "nội dung tệp không khớp với loại '{ext}'",
    },
    "upload_name": {
        "en": "file name '{name}' is not accepted",
        "vi": "tên tệp '{name}' không được chấp nhận",
    },
    "upload_duplicate": {
        "en": "the same file is already attached to dossier {id} as '{name}'",
        "vi": "tệp này đã được đính kèm vào hồ sơ {id} với tên '{name}'",
    },
    "upload_kind": {
        "en": "{user} may not upload a '{kind}' document",
        "vi": "{user} không được tải lên tài liệu loại '{kind}'",
    },
    "incident_not_found": {"en": "incident {id} not found", "vi": "không tìm thấy sự cố {id}"},
    "no_approved_dossier": {
        "en": "agency {agency} has no approved dossier to re-determine",
        "vi": "cơ quan {agency} không có hồ sơ đã phê duyệt nào để xác định lại cấp độ",
    },
    "not_incident_agency": {
        "en": "dossier {id} is not a dossier of the incident's agency",
        "vi": "hồ sơ {id} không thuộc cơ quan có sự cố",
    },
    "upload_closed": {
        "en": "documents cannot be changed in state '{state}'",
        "vi": "không thể thay đổi tài liệu ở trạng thái '{state}'",
    },
}


@dataclass(frozen=True)
class Refusal:
    """Why something was refused, in words for either language."""

    key: str
    args: tuple[tuple[str, Any], ...] = ()

    def render(self, lang: str = "en") -> str:
        template = ERRORS[self.key]
        return (template.get(lang) or template["en"]).format(**dict(self.args))


def refusal(message: str, **args: Any) -> Refusal:
    return Refusal(message, tuple(sorted(args.items())))
