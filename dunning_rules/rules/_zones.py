"""The time zone of a postal address: country, and state or province where a country has several.

:data:`COUNTRY_ZONES` gives each ISO 3166-1 country the zone most of its people live in (the
first zone the tz database's ``zone.tab`` lists for it, Kyiv for UA, Tashkent for UZ).
:data:`REGION_ZONES` splits the countries that span several zones by their ISO 3166-2
subdivision code (as Stripe writes ``address.state``: ``CA``, ``ON``, ``NSW``, ``SP``, ``JAL``,
``MOW``, ``JK``); a few English names are accepted too (:data:`REGION_NAMES`).

A value is one zone or several: a state split between zones (Texas, Florida, Indiana...) lists
them all, and so does :data:`UNKNOWN_REGION` for an address of a split country without a
state. A send window then has to be open in every one of them, so that a text to a customer
in El Paso does not go out at 7 in the morning there because most of Texas is an hour ahead.
"""

from __future__ import annotations

__all__ = ["COUNTRY_ZONES", "REGION_NAMES", "REGION_ZONES", "UNKNOWN_REGION"]

Zones = tuple[str, ...]

COUNTRY_ZONES: dict[str, str] = {
    "AD": "Europe/Andorra", "AE": "Asia/Dubai", "AF": "Asia/Kabul", "AG": "America/Antigua",
    "AI": "America/Anguilla", "AL": "Europe/Tirane", "AM": "Asia/Yerevan", "AO": "Africa/Luanda",
    "AQ": "Antarctica/McMurdo", "AR": "America/Argentina/Buenos_Aires", "AS": "Pacific/Pago_Pago",
    "AT": "Europe/Vienna", "AU": "Australia/Lord_Howe", "AW": "America/Aruba",
    "AX": "Europe/Mariehamn", "AZ": "Asia/Baku", "BA": "Europe/Sarajevo", "BB": "America/Barbados",
    "BD": "Asia/Dhaka", "BE": "Europe/Brussels", "BF": "Africa/Ouagadougou", "BG": "Europe/Sofia",
    "BH": "Asia/Bahrain", "BI": "Africa/Bujumbura", "BJ": "Africa/Porto-Novo",
    "BL": "America/St_Barthelemy", "BM": "Atlantic/Bermuda", "BN": "Asia/Brunei",
    "BO": "America/La_Paz", "BQ": "America/Kralendijk", "BR": "America/Noronha",
    "BS": "America/Nassau", "BT": "Asia/Thimphu", "BW": "Africa/Gaborone", "BY": "Europe/Minsk",
    "BZ": "America/Belize", "CA": "America/St_Johns", "CC": "Indian/Cocos",
    "CD": "Africa/Kinshasa", "CF": "Africa/Bangui", "CG": "Africa/Brazzaville",
    "CH": "Europe/Zurich", "CI": "Africa/Abidjan", "CK": "Pacific/Rarotonga",
    "CL": "America/Santiago", "CM": "Africa/Douala", "CN": "Asia/Shanghai", "CO": "America/Bogota",
    "CR": "America/Costa_Rica", "CU": "America/Havana", "CV": "Atlantic/Cape_Verde",
    "CW": "America/Curacao", "CX": "Indian/Christmas", "CY": "Asia/Nicosia", "CZ": "Europe/Prague",
    "DE": "Europe/Berlin", "DJ": "Africa/Djibouti", "DK": "Europe/Copenhagen",
    "DM": "America/Dominica", "DO": "America/Santo_Domingo", "DZ": "Africa/Algiers",
    "EC": "America/Guayaquil", "EE": "Europe/Tallinn", "EG": "Africa/Cairo",
    "EH": "Africa/El_Aaiun", "ER": "Africa/Asmara", "ES": "Europe/Madrid",
    "ET": "Africa/Addis_Ababa", "FI": "Europe/Helsinki", "FJ": "Pacific/Fiji",
    "FK": "Atlantic/Stanley", "FM": "Pacific/Chuuk", "FO": "Atlantic/Faroe", "FR": "Europe/Paris",
    "GA": "Africa/Libreville", "GB": "Europe/London", "GD": "America/Grenada",
    "GE": "Asia/Tbilisi", "GF": "America/Cayenne", "GG": "Europe/Guernsey", "GH": "Africa/Accra",
    "GI": "Europe/Gibraltar", "GL": "America/Nuuk", "GM": "Africa/Banjul", "GN": "Africa/Conakry",
    "GP": "America/Guadeloupe", "GQ": "Africa/Malabo", "GR": "Europe/Athens",
    "GS": "Atlantic/South_Georgia", "GT": "America/Guatemala", "GU": "Pacific/Guam",
    "GW": "Africa/Bissau", "GY": "America/Guyana", "HK": "Asia/Hong_Kong",
    "HN": "America/Tegucigalpa", "HR": "Europe/Zagreb", "HT": "America/Port-au-Prince",
    "HU": "Europe/Budapest", "ID": "Asia/Jakarta", "IE": "Europe/Dublin", "IL": "Asia/Jerusalem",
    "IM": "Europe/Isle_of_Man", "IN": "Asia/Kolkata", "IO": "Indian/Chagos", "IQ": "Asia/Baghdad",
    "IR": "Asia/Tehran", "IS": "Atlantic/Reykjavik", "IT": "Europe/Rome", "JE": "Europe/Jersey",
    "JM": "America/Jamaica", "JO": "Asia/Amman", "JP": "Asia/Tokyo", "KE": "Africa/Nairobi",
    "KG": "Asia/Bishkek", "KH": "Asia/Phnom_Penh", "KI": "Pacific/Tarawa", "KM": "Indian/Comoro",
    "KN": "America/St_Kitts", "KP": "Asia/Pyongyang", "KR": "Asia/Seoul", "KW": "Asia/Kuwait",
    "KY": "America/Cayman", "KZ": "Asia/Almaty", "LA": "Asia/Vientiane", "LB": "Asia/Beirut",
    "LC": "America/St_Lucia", "LI": "Europe/Vaduz", "LK": "Asia/Colombo", "LR": "Africa/Monrovia",
    "LS": "Africa/Maseru", "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg", "LV": "Europe/Riga",
    "LY": "Africa/Tripoli", "MA": "Africa/Casablanca", "MC": "Europe/Monaco",
    "MD": "Europe/Chisinau", "ME": "Europe/Podgorica", "MF": "America/Marigot",
    "MG": "Indian/Antananarivo", "MH": "Pacific/Majuro", "MK": "Europe/Skopje",
    "ML": "Africa/Bamako", "MM": "Asia/Yangon", "MN": "Asia/Ulaanbaatar", "MO": "Asia/Macau",
    "MP": "Pacific/Saipan", "MQ": "America/Martinique", "MR": "Africa/Nouakchott",
    "MS": "America/Montserrat", "MT": "Europe/Malta", "MU": "Indian/Mauritius",
    "MV": "Indian/Maldives", "MW": "Africa/Blantyre", "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur", "MZ": "Africa/Maputo", "NA": "Africa/Windhoek",
    "NC": "Pacific/Noumea", "NE": "Africa/Niamey", "NF": "Pacific/Norfolk", "NG": "Africa/Lagos",
    "NI": "America/Managua", "NL": "Europe/Amsterdam", "NO": "Europe/Oslo", "NP": "Asia/Kathmandu",
    "NR": "Pacific/Nauru", "NU": "Pacific/Niue", "NZ": "Pacific/Auckland", "OM": "Asia/Muscat",
    "PA": "America/Panama", "PE": "America/Lima", "PF": "Pacific/Tahiti",
    "PG": "Pacific/Port_Moresby", "PH": "Asia/Manila", "PK": "Asia/Karachi", "PL": "Europe/Warsaw",
    "PM": "America/Miquelon", "PN": "Pacific/Pitcairn", "PR": "America/Puerto_Rico",
    "PS": "Asia/Hebron", "PT": "Europe/Lisbon", "PW": "Pacific/Palau", "PY": "America/Asuncion",
    "QA": "Asia/Qatar", "RE": "Indian/Reunion", "RO": "Europe/Bucharest", "RS": "Europe/Belgrade",
    "RU": "Europe/Kaliningrad", "RW": "Africa/Kigali", "SA": "Asia/Riyadh",
    "SB": "Pacific/Guadalcanal", "SC": "Indian/Mahe", "SD": "Africa/Khartoum",
    "SE": "Europe/Stockholm", "SG": "Asia/Singapore", "SH": "Atlantic/St_Helena",
    "SI": "Europe/Ljubljana", "SJ": "Arctic/Longyearbyen", "SK": "Europe/Bratislava",
    "SL": "Africa/Freetown", "SM": "Europe/San_Marino", "SN": "Africa/Dakar",
    "SO": "Africa/Mogadishu", "SR": "America/Paramaribo", "SS": "Africa/Juba",
    "ST": "Africa/Sao_Tome", "SV": "America/El_Salvador", "SX": "America/Lower_Princes",
    "SY": "Asia/Damascus", "SZ": "Africa/Mbabane", "TC": "America/Grand_Turk",
    "TD": "Africa/Ndjamena", "TF": "Indian/Kerguelen", "TG": "Africa/Lome", "TH": "Asia/Bangkok",
    "TJ": "Asia/Dushanbe", "TK": "Pacific/Fakaofo", "TL": "Asia/Dili", "TM": "Asia/Ashgabat",
    "TN": "Africa/Tunis", "TO": "Pacific/Tongatapu", "TR": "Europe/Istanbul",
    "TT": "America/Port_of_Spain", "TV": "Pacific/Funafuti", "TW": "Asia/Taipei",
    "TZ": "Africa/Dar_es_Salaam", "UA": "Europe/Kyiv", "UG": "Africa/Kampala",
    "UM": "Pacific/Midway", "US": "America/New_York", "UY": "America/Montevideo",
    "UZ": "Asia/Tashkent", "VA": "Europe/Vatican", "VC": "America/St_Vincent",
    "VE": "America/Caracas", "VG": "America/Tortola", "VI": "America/St_Thomas",
    "VN": "Asia/Ho_Chi_Minh", "VU": "Pacific/Efate", "WF": "Pacific/Wallis", "WS": "Pacific/Apia",
    "YE": "Asia/Aden", "YT": "Indian/Mayotte", "ZA": "Africa/Johannesburg", "ZM": "Africa/Lusaka",
    "ZW": "Africa/Harare",
}  # fmt: skip
"""ISO 3166-1 alpha-2 country code -> the zone of most of its people."""


def _each(codes: str, zone: str) -> dict[str, Zones]:
    """``zone`` for each of the space-separated subdivision ``codes``."""
    return {code: (zone,) for code in codes.split(" ")}


_NY, _CHI, _DEN, _PHX, _LA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
)

_US: dict[str, Zones] = {
    "AL": (_CHI,), "AK": ("America/Anchorage", "America/Adak"), "AZ": (_PHX,), "AR": (_CHI,),
    "CA": (_LA,), "CO": (_DEN,), "CT": (_NY,), "DE": (_NY,), "DC": (_NY,),
    "FL": (_NY, _CHI), "GA": (_NY,), "HI": ("Pacific/Honolulu",), "ID": ("America/Boise", _LA),
    "IL": (_CHI,), "IN": ("America/Indiana/Indianapolis", _CHI), "IA": (_CHI,),
    "KS": (_CHI, _DEN), "KY": ("America/Kentucky/Louisville", _CHI), "LA": (_CHI,),
    "ME": (_NY,), "MD": (_NY,), "MA": (_NY,), "MI": ("America/Detroit", "America/Menominee"),
    "MN": (_CHI,), "MS": (_CHI,), "MO": (_CHI,), "MT": (_DEN,), "NE": (_CHI, _DEN),
    "NV": (_LA,), "NH": (_NY,), "NJ": (_NY,), "NM": (_DEN,), "NY": (_NY,), "NC": (_NY,),
    "ND": (_CHI, _DEN), "OH": (_NY,), "OK": (_CHI,), "OR": (_LA, "America/Boise"),
    "PA": (_NY,), "RI": (_NY,), "SC": (_NY,), "SD": (_CHI, _DEN), "TN": (_CHI, _NY),
    "TX": (_CHI, _DEN), "UT": (_DEN,), "VT": (_NY,), "VA": (_NY,), "WA": (_LA,),
    "WV": (_NY,), "WI": (_CHI,), "WY": (_DEN,),
    "PR": ("America/Puerto_Rico",), "VI": ("America/St_Thomas",), "GU": ("Pacific/Guam",),
    "AS": ("Pacific/Pago_Pago",), "MP": ("Pacific/Saipan",),
}  # fmt: skip

_CA: dict[str, Zones] = {
    "AB": ("America/Edmonton",), "BC": ("America/Vancouver",), "MB": ("America/Winnipeg",),
    "NB": ("America/Moncton",), "NL": ("America/St_Johns", "America/Goose_Bay"),
    "NS": ("America/Halifax",), "NT": ("America/Edmonton",),
    "NU": ("America/Iqaluit", "America/Rankin_Inlet", "America/Cambridge_Bay"),
    "ON": ("America/Toronto", "America/Winnipeg"), "PE": ("America/Halifax",),
    "QC": ("America/Toronto",), "SK": ("America/Regina",), "YT": ("America/Whitehorse",),
}  # fmt: skip

_MX_CITY = "America/Mexico_City"
_MX: dict[str, Zones] = {
    "AGU": (_MX_CITY,), "BCN": ("America/Tijuana",), "BCS": ("America/Mazatlan",),
    "CAM": ("America/Merida",), "CHP": (_MX_CITY,),
    "CHH": ("America/Chihuahua", "America/Ciudad_Juarez"), "CMX": (_MX_CITY,),
    "COA": ("America/Monterrey",), "COL": (_MX_CITY,), "DUR": ("America/Monterrey",),
    "GUA": (_MX_CITY,), "GRO": (_MX_CITY,), "HID": (_MX_CITY,), "JAL": (_MX_CITY,),
    "MEX": (_MX_CITY,), "MIC": (_MX_CITY,), "MOR": (_MX_CITY,),
    "NAY": ("America/Mazatlan", "America/Bahia_Banderas"), "NLE": ("America/Monterrey",),
    "OAX": (_MX_CITY,), "PUE": (_MX_CITY,), "QUE": (_MX_CITY,), "ROO": ("America/Cancun",),
    "SLP": (_MX_CITY,), "SIN": ("America/Mazatlan",), "SON": ("America/Hermosillo",),
    "TAB": (_MX_CITY,), "TAM": ("America/Monterrey", "America/Matamoros"),
    "TLA": (_MX_CITY,), "VER": (_MX_CITY,), "YUC": ("America/Merida",), "ZAC": (_MX_CITY,),
    "CDMX": (_MX_CITY,), "DF": (_MX_CITY,),
}  # fmt: skip

_SP = "America/Sao_Paulo"
_BR: dict[str, Zones] = {
    "AC": ("America/Rio_Branco",), "AL": ("America/Maceio",), "AP": ("America/Belem",),
    "AM": ("America/Manaus", "America/Eirunepe"), "BA": ("America/Bahia",),
    "CE": ("America/Fortaleza",), "DF": (_SP,), "ES": (_SP,), "GO": (_SP,),
    "MA": ("America/Fortaleza",), "MT": ("America/Cuiaba",), "MS": ("America/Campo_Grande",),
    "MG": (_SP,), "PA": ("America/Belem", "America/Santarem"), "PB": ("America/Fortaleza",),
    "PR": (_SP,), "PE": ("America/Recife",), "PI": ("America/Fortaleza",), "RJ": (_SP,),
    "RN": ("America/Fortaleza",), "RS": (_SP,), "RO": ("America/Porto_Velho",),
    "RR": ("America/Boa_Vista",), "SC": (_SP,), "SP": (_SP,), "SE": ("America/Maceio",),
    "TO": ("America/Araguaina",),
}  # fmt: skip

_AU: dict[str, Zones] = {
    "ACT": ("Australia/Sydney",), "NSW": ("Australia/Sydney", "Australia/Broken_Hill"),
    "NT": ("Australia/Darwin",), "QLD": ("Australia/Brisbane",), "SA": ("Australia/Adelaide",),
    "TAS": ("Australia/Hobart",), "VIC": ("Australia/Melbourne",), "WA": ("Australia/Perth",),
}  # fmt: skip

_MSK = "Europe/Moscow"
_RU: dict[str, Zones] = {
    "KGD": ("Europe/Kaliningrad",),
    **_each(
        "MOW SPE AD ARK BEL BRY CE CU DA IN IVA KB KC KDA KL KLU KO KR KRS LEN LIP ME MO "
        "MOS MUR NEN NGR NIZ ORL PNZ PSK ROS RYA SE SMO STA TA TAM TUL TVE VLA VLG VOR YAR",
        _MSK,
    ),
    "KIR": ("Europe/Kirov",), "VGG": ("Europe/Volgograd",), "AST": ("Europe/Astrakhan",),
    "SAR": ("Europe/Saratov",), "ULY": ("Europe/Ulyanovsk",), "SAM": ("Europe/Samara",),
    "UD": ("Europe/Samara",),
    **_each("BA CHE KGN KHM ORE PER SVE TYU YAN", "Asia/Yekaterinburg"),
    "OMS": ("Asia/Omsk",), "NVS": ("Asia/Novosibirsk",), "ALT": ("Asia/Barnaul",),
    "AL": ("Asia/Barnaul",), "TOM": ("Asia/Tomsk",), "KEM": ("Asia/Novokuznetsk",),
    "KYA": ("Asia/Krasnoyarsk",), "TY": ("Asia/Krasnoyarsk",), "KK": ("Asia/Krasnoyarsk",),
    "IRK": ("Asia/Irkutsk",), "BU": ("Asia/Irkutsk",), "ZAB": ("Asia/Chita",),
    "SA": ("Asia/Yakutsk", "Asia/Vladivostok", "Asia/Srednekolymsk"), "AMU": ("Asia/Yakutsk",),
    "PRI": ("Asia/Vladivostok",), "KHA": ("Asia/Vladivostok",), "YEV": ("Asia/Vladivostok",),
    "MAG": ("Asia/Magadan",), "SAK": ("Asia/Sakhalin",), "KAM": ("Asia/Kamchatka",),
    "CHU": ("Asia/Anadyr",),
}  # fmt: skip

_ID: dict[str, Zones] = {
    **_each("AC SU SB RI KR JA SS BB BE LA JK JB BT JT YO JI", "Asia/Jakarta"),
    "KB": ("Asia/Pontianak",), "KT": ("Asia/Pontianak",),
    **_each("BA NB NT KS KI KU SA ST SN SG GO SR", "Asia/Makassar"),
    **_each("MA MU PA PB PD PE PS PT", "Asia/Jayapura"),
}  # fmt: skip

REGION_ZONES: dict[str, dict[str, Zones]] = {
    "US": _US, "CA": _CA, "MX": _MX, "BR": _BR, "AU": _AU, "RU": _RU, "ID": _ID,
}  # fmt: skip
"""Country -> ISO 3166-2 subdivision code (without the ``US-`` prefix) -> its zones."""

UNKNOWN_REGION: dict[str, Zones] = {
    "US": (_NY, _CHI, _DEN, _PHX, _LA, "America/Anchorage", "Pacific/Honolulu"),
    "CA": (
        "America/St_Johns", "America/Halifax", "America/Toronto", "America/Winnipeg",
        "America/Regina", "America/Edmonton", "America/Vancouver",
    ),
    "MX": (_MX_CITY, "America/Cancun", "America/Mazatlan", "America/Hermosillo",
           "America/Tijuana"),
    "BR": (_SP, "America/Manaus", "America/Rio_Branco"),
    "AU": ("Australia/Sydney", "Australia/Brisbane", "Australia/Adelaide", "Australia/Darwin",
           "Australia/Perth"),
    "RU": (
        "Europe/Kaliningrad", _MSK, "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
        "Asia/Novosibirsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan",
        "Asia/Kamchatka",
    ),
    "ID": ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"),
}  # fmt: skip
"""The zones of a country of :data:`REGION_ZONES` whose state is missing or unknown: one zone
of each offset where people live (the main ones: not Lord Howe, Adak or Noronha)."""

REGION_NAMES: dict[str, dict[str, str]] = {
    "US": {
        "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
        "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
        "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
        "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
        "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
        "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
        "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
        "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
        "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
        "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
        "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
        "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
        "guam": "GU",
    },
    "CA": {
        "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
        "newfoundland and labrador": "NL", "nova scotia": "NS", "northwest territories": "NT",
        "nunavut": "NU", "ontario": "ON", "prince edward island": "PE", "quebec": "QC",
        "québec": "QC", "saskatchewan": "SK", "yukon": "YT",
    },
    "AU": {
        "australian capital territory": "ACT", "new south wales": "NSW",
        "northern territory": "NT", "queensland": "QLD", "south australia": "SA",
        "tasmania": "TAS", "victoria": "VIC", "western australia": "WA",
    },
}  # fmt: skip
"""Country -> lower-case English name of a state -> its code in :data:`REGION_ZONES`."""
