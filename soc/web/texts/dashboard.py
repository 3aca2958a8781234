"""Dashboard page and its charts."""

MESSAGES: dict[str, dict[str, str]] = {
    "dashboard.title": {"en": "Dashboard", "vi": "Tổng quan"},
    "dashboard.filters": {"en": "Dashboard filters", "vi": "Bộ lọc tổng quan"},
    "dashboard.range": {"en": "Time range", "vi": "Khoảng thời gian"},
    "dashboard.range_24h": {"en": "24 hours", "vi": "24 giờ"},
    "dashboard.range_7d": {"en": "7 days", "vi": "7 ngày"},
    "dashboard.range_30d": {"en": "30 days", "vi": "30 ngày"},
    "dashboard.total": {"en": "Alerts in range", "vi": "Cảnh báo trong khoảng"},
    "dashboard.open": {"en": "Open now", "vi": "Đang mở"},
    "dashboard.mtta": {"en": "MTTA", "vi": "TG xác nhận TB"},
    "dashboard.mtta_long": {
        "en": "Mean time to acknowledge: from an alert's creation to its first acknowledgement",
        "vi": "Thời gian xác nhận trung bình: từ khi cảnh báo được tạo tới lần xác nhận đầu tiên",
    },
    "dashboard.mttr": {"en": "MTTR", "vi": "TG xử lý TB"},
    "dashboard.mttr_long": {
        "en": "Mean time to resolve: from an alert's creation to its closing",
        "vi": "Thời gian xử lý trung bình: từ khi cảnh báo được tạo tới khi đóng",
    },
    "dashboard.over_n": {"en": "over {n} alerts", "vi": "trên {n} cảnh báo"},
    "dashboard.over_time": {"en": "Alerts over time by severity", "vi": "Cảnh báo theo thời gian và mức độ"},
    "dashboard.over_time_desc": {
        "en": "{total} alerts, one bar per {bucket}, {span}. By severity: {per_level}.",
        "vi": "{total} cảnh báo, mỗi cột một {bucket}, {span}. Theo mức độ: {per_level}.",
    },
    "dashboard.bucket_hour": {"en": "hour", "vi": "giờ"},
    "dashboard.bucket_day": {"en": "day", "vi": "ngày"},
    "dashboard.no_alerts": {"en": "No alerts in this range", "vi": "Không có cảnh báo trong khoảng này"},
    "dashboard.top_rules": {"en": "Top rules", "vi": "Luật sinh nhiều cảnh báo nhất"},
    "dashboard.top_rules_desc": {
        "en": "The ten rules that raised the most alerts in the range.",
        "vi": "Mười luật sinh nhiều cảnh báo nhất trong khoảng thời gian.",
    },
    "dashboard.per_agency": {"en": "Alerts per agency", "vi": "Cảnh báo theo cơ quan"},
    "dashboard.per_agency_desc": {
        "en": "Alerts raised in the range, per agency.",
        "vi": "Số cảnh báo trong khoảng thời gian, theo từng cơ quan.",
    },
    "dashboard.open_by_status": {"en": "Open alerts by status", "vi": "Cảnh báo đang mở theo trạng thái"},
    "dashboard.open_by_status_desc": {
        "en": "Alerts not yet closed, whatever their age, per status.",
        "vi": "Các cảnh báo chưa đóng, bất kể thời điểm tạo, theo trạng thái.",
    },
    "dashboard.as_table": {"en": "Show as a table", "vi": "Xem dạng bảng"},
    "dashboard.period": {"en": "Period starting", "vi": "Khoảng bắt đầu"},
    "dashboard.alerts": {"en": "Alerts", "vi": "Cảnh báo"},
    "dashboard.status": {"en": "Status", "vi": "Trạng thái"},
    "dashboard.status_new": {"en": "New", "vi": "Mới"},
    "dashboard.status_acknowledged": {"en": "Acknowledged", "vi": "Đã xác nhận"},
    "dashboard.status_in_progress": {"en": "In progress", "vi": "Đang xử lý"},
    "dashboard.level_critical": {"en": "Critical", "vi": "Nghiêm trọng"},
    "dashboard.level_high": {"en": "High", "vi": "Cao"},
    "dashboard.level_medium": {"en": "Medium", "vi": "Trung bình"},
    "dashboard.level_low": {"en": "Low", "vi": "Thấp"},
    "dashboard.level_informational": {"en": "Informational", "vi": "Thông tin"},
    "dashboard.note": {
        "en": "Counts use the alert's creation time; response times cover the alerts created in the range.",
        "vi": "Số liệu tính theo thời điểm tạo cảnh báo; "
        "thời gian phản hồi tính trên các cảnh báo tạo trong khoảng.",
    },
    "dashboard.dossiers": {"en": "Security-level dossiers", "vi": "Hồ sơ đề xuất cấp độ"},
    "dashboard.dossiers_headline": {
        "en": "{approved} of {total} dossiers approved",
        "vi": "{approved}/{total} hồ sơ đã được phê duyệt",
    },
    "dashboard.dossiers_overdue": {"en": "Overdue", "vi": "Quá hạn"},
    "dashboard.dossiers_overdue_n": {"en": "{n} overdue", "vi": "{n} hồ sơ quá hạn"},
    "dashboard.dossiers_approved": {"en": "Approved", "vi": "Đã phê duyệt"},
    "dashboard.dossiers_not_approved": {"en": "Not yet approved", "vi": "Chưa phê duyệt"},
    "dashboard.dossiers_total": {"en": "Total", "vi": "Tổng số"},
    "dashboard.dossiers_chart": {
        "en": "Dossiers approved per agency",
        "vi": "Hồ sơ đã được phê duyệt theo cơ quan",
    },
    "dashboard.dossiers_desc": {
        "en": "{approved} of {total} dossiers approved, {overdue} overdue. Per agency: {per_agency}.",
        "vi": "{approved}/{total} hồ sơ đã được phê duyệt, {overdue} hồ sơ quá hạn. "
        "Theo cơ quan: {per_agency}.",
    },
    "dashboard.dossiers_row": {
        "en": "{name} {approved} of {total} approved, {overdue} overdue",
        "vi": "{name} {approved}/{total} đã phê duyệt, {overdue} quá hạn",
    },
    "dashboard.dossiers_none": {"en": "No dossiers yet", "vi": "Chưa có hồ sơ"},
    "dashboard.dossiers_open": {"en": "Open the dossier list", "vi": "Mở danh sách hồ sơ"},
}
