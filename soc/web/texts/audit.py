"""Audit log page."""

MESSAGES: dict[str, dict[str, str]] = {
    "audit.title": {"en": "Audit log", "vi": "Nhật ký kiểm toán"},
    "audit.chain": {"en": "Hash chain", "vi": "Chuỗi băm"},
    "audit.chain_ok": {
        "en": "Intact: all {n} entries follow each other and match their hashes.",
        "vi": "Toàn vẹn: cả {n} bản ghi nối tiếp nhau và khớp mã băm.",
    },
    "audit.chain_broken": {
        "en": "The chain is broken: {n} problems (an entry was edited, removed or reordered).",
        "vi": "Chuỗi bị phá vỡ: {n} lỗi (có bản ghi bị sửa, xóa hoặc đổi thứ tự).",
    },
    "audit.latest_hash": {
        "en": "Newest hash (keep it elsewhere to detect entries cut off the end)",
        "vi": "Mã băm mới nhất (lưu ở nơi khác để phát hiện bản ghi cuối bị cắt bỏ)",
    },
    "audit.filters": {"en": "Audit log filters", "vi": "Bộ lọc nhật ký kiểm toán"},
    "audit.actor": {"en": "Who", "vi": "Người thực hiện"},
    "audit.action": {"en": "Action", "vi": "Hành động"},
    "audit.target_type": {"en": "Object type", "vi": "Loại đối tượng"},
    "audit.target": {"en": "Object", "vi": "Đối tượng"},
    "audit.at": {"en": "When", "vi": "Thời điểm"},
    "audit.detail": {"en": "Details", "vi": "Chi tiết"},
    "audit.fields": {"en": "fields", "vi": "trường"},
    "audit.none": {"en": "No entries match.", "vi": "Không có bản ghi nào khớp."},
    "audit.pages": {"en": "Pages", "vi": "Trang"},
    "audit.newest": {"en": "Newest", "vi": "Mới nhất"},
    "audit.older": {"en": "Older entries", "vi": "Bản ghi cũ hơn"},
}
