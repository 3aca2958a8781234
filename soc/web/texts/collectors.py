"""Collectors and agencies page."""

MESSAGES: dict[str, dict[str, str]] = {
    "collectors.title": {"en": "Collectors and agencies", "vi": "Bộ thu thập và cơ quan"},
    "collectors.silent_rule": {
        "en": "A collector is flagged silent when nothing arrived from it for {minutes} minutes. "
        "Lag is event.ingested − @timestamp (median / max) over the latest events.",
        "vi": "Bộ thu thập bị đánh dấu im lặng khi không gửi gì trong {minutes} phút. "
        "Độ trễ là event.ingested − @timestamp (trung vị / lớn nhất) trên các sự kiện gần nhất.",
    },
    "collectors.silent_count": {
        "en": "{n} agencies have silent collectors",
        "vi": "{n} cơ quan có bộ thu thập im lặng",
    },
    "collectors.agencies": {"en": "Agencies", "vi": "Cơ quan"},
    "collectors.agency": {"en": "Agency", "vi": "Cơ quan"},
    "collectors.events_24h": {"en": "Events (24 h)", "vi": "Sự kiện (24 giờ)"},
    "collectors.eps_5m": {"en": "Events/s (5 min)", "vi": "Sự kiện/giây (5 phút)"},
    "collectors.eps_60m": {"en": "Events/s (60 min)", "vi": "Sự kiện/giây (60 phút)"},
    "collectors.open_alerts": {"en": "Open alerts", "vi": "Cảnh báo đang mở"},
    "collectors.tokens": {"en": "Collector tokens", "vi": "Mã bộ thu thập"},
    "collectors.hosts": {"en": "Active hosts", "vi": "Máy đang gửi"},
    "collectors.last_seen": {"en": "Last seen", "vi": "Lần cuối nhận"},
    "collectors.lag": {"en": "Ingest lag", "vi": "Độ trễ tiếp nhận"},
    "collectors.alarm": {"en": "Alarm", "vi": "Cảnh báo"},
    "collectors.silent": {"en": "Silent", "vi": "Im lặng"},
    "collectors.ok": {"en": "Sending", "vi": "Đang gửi"},
    "collectors.never": {"en": "never", "vi": "chưa bao giờ"},
    "collectors.no_collector": {"en": "no collector", "vi": "chưa có bộ thu thập"},
    "collectors.all_agencies": {"en": "Show every agency", "vi": "Xem mọi cơ quan"},
    "collectors.hosts_title": {"en": "Collectors", "vi": "Bộ thu thập"},
    "collectors.hosts_help": {
        "en": "Each collector host that sent events or a heartbeat in the last hour.",
        "vi": "Mỗi máy có bộ thu thập đã gửi sự kiện hoặc tín hiệu sống trong một giờ qua.",
    },
    "collectors.host": {"en": "Host", "vi": "Máy"},
    "collectors.heartbeat": {"en": "Last heartbeat", "vi": "Tín hiệu sống gần nhất"},
    "collectors.spool": {"en": "Spool backlog (bytes)", "vi": "Hàng đợi trên đĩa (byte)"},
    "collectors.no_hosts": {
        "en": "No collector sent anything in the last hour.",
        "vi": "Không bộ thu thập nào gửi dữ liệu trong một giờ qua.",
    },
    "collectors.tokens_title": {"en": "Collector tokens", "vi": "Mã xác thực của bộ thu thập"},
    "collectors.token": {"en": "Token", "vi": "Mã"},
    "collectors.created": {"en": "Created", "vi": "Ngày tạo"},
    "collectors.last_used": {"en": "Last used", "vi": "Lần dùng gần nhất"},
    "collectors.revoked": {"en": "revoked or expired", "vi": "đã thu hồi hoặc hết hạn"},
    "collectors.no_tokens": {"en": "No collector tokens.", "vi": "Chưa có mã bộ thu thập nào."},
}
