# German formats of Customer 360 (FORMAT_MODULE_PATH): one date format everywhere, "13.01.2027";
# 24-hour times; 1.234,50.
DATE_FORMAT = "d.m.Y"
SHORT_DATE_FORMAT = "d.m.Y"
DATETIME_FORMAT = "d.m.Y, H:i"
SHORT_DATETIME_FORMAT = "d.m.Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "d.m."
YEAR_MONTH_FORMAT = "m.Y"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
