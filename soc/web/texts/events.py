"""Event search, timeline, export and pivot texts."""

MESSAGES: dict[str, dict[str, str]] = {
    "events.title": {"en": "Events", "vi": "Sự kiện"},
    "events.search": {"en": "Search events", "vi": "Tìm kiếm sự kiện"},
    "events.text": {"en": "Text in the message", "vi": "Nội dung trong thông điệp"},
    "events.from": {"en": "From (local time)", "vi": "Từ (giờ địa phương)"},
    "events.to": {"en": "To (local time)", "vi": "Đến (giờ địa phương)"},
    "events.agency": {"en": "Agency", "vi": "Cơ quan"},
    "events.host": {"en": "Host", "vi": "Máy chủ"},
    "events.user": {"en": "User", "vi": "Người dùng"},
    "events.source_ip": {"en": "Source IP", "vi": "IP nguồn"},
    "events.dataset": {"en": "Dataset", "vi": "Nguồn dữ liệu"},
    "events.outcome": {"en": "Outcome", "vi": "Kết quả"},
    "events.outcome_success": {"en": "success", "vi": "thành công"},
    "events.outcome_failure": {"en": "failure", "vi": "thất bại"},
    "events.outcome_unknown": {"en": "unknown", "vi": "không rõ"},
    "events.more_filters": {"en": "More filters", "vi": "Bộ lọc khác"},
    "events.more_filters_help": {
        "en": "One field=value per line, e.g. event.action=ssh_login; field!=value excludes; "
        "* and ? are wildcards; an IP field also takes a network (10.0.0.0/8).",
        "vi": "Mỗi dòng một điều kiện trường=giá trị, ví dụ event.action=ssh_login; "
        "trường!=giá trị để loại trừ; * và ? là ký tự đại diện; trường IP nhận cả dải mạng (10.0.0.0/8).",
    },
    "events.time": {"en": "Time", "vi": "Thời gian"},
    "events.message": {"en": "Message / original log line", "vi": "Thông điệp / dòng nhật ký gốc"},
    "events.details": {"en": "All fields", "vi": "Tất cả các trường"},
    "events.field": {"en": "Field", "vi": "Trường"},
    "events.value": {"en": "Value", "vi": "Giá trị"},
    "events.none": {"en": "No events match these filters.", "vi": "Không có sự kiện nào khớp bộ lọc."},
    "events.total": {"en": "{n} matching events", "vi": "{n} sự kiện khớp"},
    "events.order_note": {
        "en": "Pages follow the order in which events reached the SOC; each page is sorted by event time.",
        "vi": "Các trang theo thứ tự sự kiện được tiếp nhận về SOC; "
        "trong mỗi trang, sự kiện được xếp theo thời gian.",
    },
    "events.first_page": {"en": "First page", "vi": "Trang đầu"},
    "events.timeline": {"en": "Timeline", "vi": "Dòng thời gian"},
    "events.timeline_desc": {
        "en": "{total} events in buckets of {step}; the highest bucket holds {peak}.",
        "vi": "{total} sự kiện, mỗi cột {step}; cột cao nhất có {peak} sự kiện.",
    },
    "events.timeline_table": {"en": "Timeline as a table", "vi": "Dòng thời gian dạng bảng"},
    "events.bucket": {"en": "From", "vi": "Từ"},
    "events.count": {"en": "Events", "vi": "Số sự kiện"},
    "events.minutes": {"en": "{n} min", "vi": "{n} phút"},
    "events.hours": {"en": "{n} h", "vi": "{n} giờ"},
    "events.days": {"en": "{n} days", "vi": "{n} ngày"},
    "events.export_note": {
        "en": "CSV with the same filters, at most {cap} rows.",
        "vi": "CSV theo cùng bộ lọc, tối đa {cap} dòng.",
    },
    "events.export_truncated": {
        "en": "Export stopped at {cap} rows; narrow the filters to get the rest.",
        "vi": "Đã dừng xuất ở {cap} dòng; hãy thu hẹp bộ lọc để lấy phần còn lại.",
    },
    "events.matched": {"en": "matched by the alert", "vi": "khớp với cảnh báo"},
    "events.pivot_title": {"en": "Events around an alert", "vi": "Sự kiện quanh cảnh báo"},
    "events.pivot_intro": {
        "en": "Events of {field} = {value} in agency {agency}, from {start} to {end}.",
        "vi": "Các sự kiện có {field} = {value} của cơ quan {agency}, từ {start} đến {end}.",
    },
    "events.pivot_by": {"en": "Pivot on", "vi": "Xoay theo"},
    "events.pivot_window": {"en": "Time around the alert", "vi": "Khoảng thời gian quanh cảnh báo"},
    "events.pivot_open_search": {"en": "Open in event search", "vi": "Mở trong tìm kiếm sự kiện"},
    "events.alert": {"en": "Alert", "vi": "Cảnh báo"},
    "events.alert_span": {"en": "Alert events", "vi": "Thời gian của cảnh báo"},
    "events.error.condition": {
        "en": "Not a field=value filter: {text}",
        "vi": "Không phải bộ lọc dạng trường=giá trị: {text}",
    },
    "events.error.time": {
        "en": "Not a date and time: {text}",
        "vi": "Không phải ngày giờ hợp lệ: {text}",
    },
    "events.error.too_many": {"en": "At most {n} filters.", "vi": "Tối đa {n} điều kiện lọc."},
    "events.error.range": {
        "en": "The start of the time range must be before its end.",
        "vi": "Thời điểm bắt đầu phải trước thời điểm kết thúc.",
    },
    "events.error.query": {
        "en": "This filter cannot be run: {detail}",
        "vi": "Không thể chạy bộ lọc này: {detail}",
    },
    "events.error.cursor": {
        "en": "That page position does not belong to this search; start from the first page.",
        "vi": "Vị trí trang không thuộc lần tìm kiếm này; hãy bắt đầu lại từ trang đầu.",
    },
    "events.error.pivot_by": {
        "en": "Pivot on host, user or source IP.",
        "vi": "Chỉ xoay theo máy chủ, người dùng hoặc IP nguồn.",
    },
    "events.error.minutes": {
        "en": "Minutes must be between 1 and {max}.",
        "vi": "Số phút phải từ 1 đến {max}.",
    },
    "events.error.pivot_value": {
        "en": "This alert has no {by} to pivot on.",
        "vi": "Cảnh báo này không có giá trị {by} để xoay.",
    },
}
