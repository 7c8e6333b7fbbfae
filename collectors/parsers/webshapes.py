"""Attack *shapes* that libinjection's tokenizer misses, written from the OWASP Core Rule Set's
rule families (942 SQLi, 941 XSS, 933 PHP, 932 RCE, 930 LFI).

libinjection judges a value by its first tokens: a payload that opens with a double quote and a
parenthesis (``admin") or ("1"="1``), a function call it does not know (``extractvalue(``), a
keyword split by comments (``un/**/ion``) or an HTML tag it does not parse (``<x onxxx=1``) goes
through. CRS backs it with regular expressions over keyword *and* syntax; so do these. Each
pattern needs syntax around its words (a call's parenthesis, a comparison of equal operands, a
tag's ``<``, an attribute's ``=``, a path's root), so that a search for "select", "union all",
"drop", "alert" or "order by", or a Vietnamese sentence, matches none of them.

Each function takes a decoded value and returns a short description of what matched, or None.
The lists of names are compact summaries of CRS's data files (lfi-os-files.data,
restricted-files.data, unix-shell.data, php-function-names-933150.data, php-variables.data),
written as families rather than copied.
"""

from __future__ import annotations

import re

from ahocorasick_rs import AhoCorasick


class Literals:
    """Lower-case literals one of which every match of a case-insensitive pattern holds, to skip
    the pattern on a text that has none. Python's ``re`` tries such a pattern at every position
    (no literal prefix to jump to under ``re.I``): microseconds on a value of 100 characters,
    hundreds on a scanner's 4,000-character payload, where one Aho-Corasick pass costs a few.

    Only ASCII text is settled here: ``re.I`` also matches four non-ASCII letters to ASCII ones
    (``ſ`` to s, ``K`` to k, ``ı`` and ``İ`` to i), which a lower-cased text would not show, so
    any other text goes to the pattern. Every use is held to its pattern in
    tests/test_webattack_cost.py."""

    __slots__ = ("_find", "words")

    def __init__(self, *words: str) -> None:
        self.words = words
        self._find = AhoCorasick(list(words)).find_matches_as_indexes

    def absent(self, text: str) -> bool:
        """Whether the pattern cannot match ``text`` (ASCII, and none of the literals in it)."""
        return text.isascii() and not self._find(text.lower())


Shape = tuple[re.Pattern[str], str, tuple[str, ...], Literals | None]
"""A pattern, what its match is called, the literals (lower case) it runs only on a text that
holds one of, and an optional :class:`Literals` gate."""


class Shapes:
    """Patterns tried in order, each only when the lower-cased text holds one of its literals:
    ``first`` gives what the first one that matches found. The literals of all the patterns are
    looked for in one Aho-Corasick pass (overlapping matches, so that no literal hides another)
    instead of an ``in`` test each (the SQL shapes' 26 took ~5 µs on a scanner's value, 65 on a
    4,000-character one): the same answers, as tests/test_webattack_cost.py holds."""

    __slots__ = ("_all", "_bits", "_find", "shapes")

    def __init__(self, *shapes: Shape) -> None:
        self.shapes = shapes
        words = sorted({w for _, _, needs, _ in shapes for w in needs})
        self._find = AhoCorasick(words).find_matches_as_indexes
        self._bits = [sum(1 << i for i, (_, _, needs, _) in enumerate(shapes) if w in needs)
                      for w in words]
        self._all = (1 << len(shapes)) - 1

    def candidates(self, low: str) -> int:
        """Bit ``i`` set when shape ``i`` has one of its literals in ``low``."""
        bits = 0
        masks = self._bits
        for word, _, _ in self._find(low, True):
            bits |= masks[word]
            if bits == self._all:
                break
        return bits

    def first(self, text: str, low: str) -> str | None:
        """``what match`` of the first shape that matches ``text`` (``low`` lower-cased)."""
        bits = self.candidates(low)
        for pattern, what, _, literals in self.shapes:
            if bits & 1 and (literals is None or not literals.absent(text)):
                m = pattern.search(text)
                if m:
                    return f"{what} {m[0].strip()[:40]}"
            bits >>= 1
            if not bits:
                break
        return None


# --- SQL injection (CRS 942) -------------------------------------------------------------------

# A boolean operator, then equal operands compared: 1=1, 'a'='a, "1"="1", x=x (942130's
# tautology, with a back-reference), or two numbers compared (942100's "1&1" the tokenizer takes
# only after a quote).
_SQL_TAUTOLOGY = re.compile(
    r"(?:^|[\s'\"`)(])(?:or|and|xor|\|\||&&)[\s('\"`]*(\w+)[\s'\"`)]*"
    r"(?:=|<=>|\blike\b|\bis\b)[\s('\"`]*\1(?:\b|$)"
    r"|(?:^|[\s'\"`)])(?:or|and)\s+\(*\d+(?:\s*[-+*/]\s*\d+)*\s*(?:[=<>!]{1,2}\s*\(*(?:\d|\w+\s*\()"
    r"|between\s+\d+\s+and\s+\d)"
    r"|['\"`]\s*\)*\s*(?:or|\|\|)\s*['\"`]\s*['\"`]", re.I)
# Function calls that only SQL makes: error-based (942150, 942151), time-based (942160, 942170),
# catalog access (942140), string building (942190, 942300).
_SQL_CALL = re.compile(
    r"\b(?:exp\s*\(\s*~|floor\s*\(\s*rand\s*\()"
    r"|\b(?:extractvalue|updatexml|geometrycollection|name_const|group_concat|concat_ws|"
    r"load_file|benchmark|pg_sleep|sleep|randomblob|make_set|elt|ascii|substring|mid|ord|"
    r"version|database|current_user|user|char|nchar|chr|convert|cast|isnull|ifnull|if|"
    r"hex|unhex|substr)\s*\(\s*(?:~|\d|0x|@@|\(\s*select|select\b|rand\s*\(|"
    r"char\s*\(|concat|version\s*\(|database\s*\(|user\s*\(|null\b|md5\s*\()"
    r"|\bwaitfor\s+(?:delay|time)\s+['\"]"
    r"|\bdbms_\w+\.\w+|\butl_(?:http|inaddr|file)\.\w+|\bsys\.\w+\s*\(",
    re.I)
_SQL_CATALOG = re.compile(
    r"\binformation_schema\b|\b(?:sysobjects|syscolumns|sysusers|sysdatabases|sqlite_master|"
    r"pg_shadow|pg_catalog|mysql\.user|all_tables|user_tables|all_tab_columns|sys\.objects|"
    r"sys\.tables)\b|@@(?:version|datadir|hostname|servername|basedir|identity)\b|"
    r"\b(?:xp_cmdshell|xp_regread|xp_dirtree|sp_oacreate|sp_executesql|sp_password)\b", re.I)
# Statements: UNION SELECT (942190), stacked queries (942350, 942360), SELECT of a list
# or a function, DECLARE @var (MSSQL payloads in hex), EXEC of a procedure or a variable.
_SQL_STATEMENT = re.compile(
    r"\bunion\b[\s(]+(?:all\b|distinct\b)?[\s(]*select\b"
    r"|;\s*(?:select\s+[\w*@(]|(?:drop|truncate|alter)\s+(?:table|database|procedure|view|user)\b"
    r"|insert\s+into\b|delete\s+from\b|update\s+\w+\s+set\b|shutdown\b|declare\s+@"
    r"|exec(?:ute)?\s+(?:master\.|xp_|sp_|@|immediate\b)|waitfor\b|create\s+user\b)"
    r"|\bselect\s+(?:\*\s*from\b|top\s+\d|@@|null\s*,|[\w.]+\s*\(.*\)\s*from\b|"
    r"[\w.]+\s*,\s*[\w.]+\s+from\b|\w+\s+from\s+\w+\s+where\b)"
    r"|\bdeclare\s+@\w+\s+n?(?:var)?char\b|\bexec(?:ute)?\s*\(\s*@|\bexec\s+(?:xp_|sp_|master\.)"
    r"|\border\s+by\s+(?:\d+|sleep\s*\(|if\s*\()\s*(?:--|#|/\*|$)"
    r"|\b(?:having|where)\s+\d+\s*=\s*\d+|\binto\s+(?:out|dump)file\b|\bgrant\s+\w+\s+to\b",
    re.I)
# Comments that split keywords (un/**/ion se/**/lect): CRS's t:replaceComments.
_SQL_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def sqli_shape(value: str) -> str | None:
    """The SQL syntax a value carries, or None (words without syntax are no SQL)."""
    text = value.replace('\\"', '"') if '\\"' in value else value  # Apache logs " as \"
    if "/*" in text:
        text = _SQL_COMMENT.sub("", text)
        if text != value:
            spaced = _SQL_COMMENT.sub(" ", value)
            return _sqli(text) or _sqli(spaced) or "comment-split keywords"
    return _sqli(text)


# Literals each pattern needs (lower case): the regular expressions run only on a value that has
# one, which keeps the shapes at a few microseconds on the values that reach them.
_SQL_SHAPES = Shapes(
    (_SQL_STATEMENT, "statement", ("select", ";", "declare", "exec", "order", "having", "where",
                                   "into", "grant"), None),
    (_SQL_TAUTOLOGY, "tautology", ("or", "and", "||", "&&"), None),
    (_SQL_CALL, "function", ("(", "waitfor", "dbms_", "utl_"), None),
    (_SQL_CATALOG, "catalog", ("schema", "sys", "master", "pg_", "mysql.", "all_ta", "user_ta",
                               "@@", "xp_", "sp_"), None),
)


def _sqli(text: str) -> str | None:
    return _SQL_SHAPES.first(text, text.lower())


# --- XSS (CRS 941) -----------------------------------------------------------------------------

# A tag with an event handler attribute (941120), whatever the separators and the tag's name.
_EVENT_HANDLER = re.compile(r"<[a-z!/?%][^>]*?[\s/\"'`]on[a-z]{3,}[\s/]*=", re.I)
# Tags that load or run code (941110, 941160), broken tags (<scr<script>ipt>).
_CODE_TAG = re.compile(
    r"<\s*/?\s*(?:script|iframe|frame|frameset|svg|object|embed|applet|base|meta\s[^>]*http-equiv|"
    r"link\s[^>]*href|style|xss|layer|ilayer|bgsound|isindex|math|xml|import|vmlframe|"
    r"form\s[^>]*action|[a-z]+\s[^>]*formaction)\b|<\w*<\s*script", re.I)
# Script URLs with obfuscation inside the scheme (941170, 941210, 941220): tabs, newlines,
# escaped ones, NULs (removed earlier), and code after the colon.
_SEP = r"(?:[\t\n\r\x0b\x0c]|\\[tnr])*"
_SCRIPT_SCHEME = re.compile(
    rf"(?:^|[^a-z])(?:j{_SEP}a{_SEP}v{_SEP}a{_SEP}s{_SEP}c{_SEP}r{_SEP}i{_SEP}p{_SEP}t"
    rf"|v{_SEP}b{_SEP}s{_SEP}c{_SEP}r{_SEP}i{_SEP}p{_SEP}t|l{_SEP}i{_SEP}v{_SEP}e{_SEP}s{_SEP}c"
    rf"{_SEP}r{_SEP}i{_SEP}p{_SEP}t|mocha)\s*:[^\n]*?[(=\\\[<`]", re.I)
_STYLE_CODE = re.compile(
    r"\bexpression\s*\(|-moz-binding\b|\bbehavior\s*:\s*url|@import\b[^;]*url|"
    r"\bsrcdoc\s*=|\bdata\s*:\s*text/html\b|\bdata\s*:\s*image/svg\+xml\b", re.I)
# A JavaScript string or block broken out of to call a dialog (the probe of reflected XSS).
_JS_BREAKOUT = re.compile(
    r"['\"`;})\]>]\s*(?:alert|prompt|confirm|eval)\s*(?:\(|`)"
    r"|\b(?:alert|prompt|confirm)\s*\(\s*(?:\d|['\"`/]|document\.|string\.fromcharcode)"
    r"|\bstring\.fromcharcode\s*\(", re.I)


_XSS_SHAPES = Shapes(
    (_SCRIPT_SCHEME, "script URL", (":",), None),
    (_STYLE_CODE, "style code", ("expression", "-moz-binding", "behavior", "@import", "srcdoc",
                                 "data"), None),
    (_JS_BREAKOUT, "script call", ("alert", "prompt", "confirm", "eval", "fromcharcode"), None),
)


def xss_shape(value: str) -> str | None:
    """The HTML or script syntax of a cross-site scripting payload, or None."""
    if "<" in value:
        for pattern, what in ((_EVENT_HANDLER, "event handler"), (_CODE_TAG, "tag")):
            m = pattern.search(value)
            if m:
                return f"{what} {m[0][:40]}"
    return _XSS_SHAPES.first(value, value.lower())


# --- code injection: PHP (CRS 933), server-side includes, script one-liners --------------------

# PHP-only function names, an open parenthesis after them (933150: their names alone are PHP).
_PHP_ONLY = (r"phpinfo|phpversion|php_uname|base64_decode|shell_exec|passthru|proc_open|"
             r"pcntl_exec|file_get_contents|file_put_contents|highlight_file|show_source|"
             r"create_function|call_user_func(?:_array)?|gzinflate|gzuncompress|str_rot13|"
             r"move_uploaded_file|posix_\w+")
# Names shared with other languages or English (933160: system, exec, eval...): a call with a
# quoted, variable or nested argument.
_PHP_WORDS = (r"eval|exec|system|assert|include(?:_once)?|require(?:_once)?|popen|fopen|fwrite|"
              r"fputs|readfile|getenv|var_dump|print_r|preg_replace|ini_set|unserialize")
_PHP = re.compile(
    rf"\b(?:{_PHP_ONLY})\s*\("
    rf"|\b(?:{_PHP_WORDS})\s*\(\s*(?:['\"`$@]|\w+\s*\()"
    r"|\b(?:print|echo|die|md5|sleep)\s*\(\s*\w+\s*\("  # nested calls: print(md5(...))
    r"|<\?(?:php\b|=|\s)|\$\{\s*@|\{\s*\$\s*\{|\$_(?:GET|POST|REQUEST|COOKIE|SERVER|FILES|ENV|"
    r"SESSION)\b|\$GLOBALS\b", re.I)
_SSI = re.compile(r"<!--\s*#\s*(?:exec|include|echo|config|set|printenv|fsize|flastmod)\b", re.I)
_ONE_LINER = re.compile(
    r"\b(?:perl|ruby)\s+-\w*e\s|\bpython[23]?\s+-c\s|\b__import__\s*\(|"
    r"\bos\.(?:system|popen|exec\w*)\s*\(|\bsubprocess\.\w+\s*\(|\bRuntime\.getRuntime\(", re.I)


_PHP_LITERALS = Literals(
    *_PHP_ONLY.replace("(?:_array)?", "").replace(r"\w+", "").split("|"),
    *_PHP_WORDS.replace("(?:_once)?", "").split("|"),
    "print", "echo", "die", "md5", "sleep", "<?", "$")
"""What every match of :data:`_PHP` holds: a function's name, ``<?`` or ``$``."""

_CODE_SHAPES = Shapes(
    (_PHP, "PHP", ("(", "<?", "$"), _PHP_LITERALS),
    (_SSI, "server-side include", ("<!--",), None),
    (_ONE_LINER, "script one-liner", ("perl", "ruby", "python", "import", "os.", "subprocess",
                                      "runtime"), None),
)


def code_shape(value: str) -> str | None:
    """Server-side code (PHP, SSI, a Perl/Python one-liner) in a value, or None."""
    return _CODE_SHAPES.first(value, value.lower())


# --- OS command at the start of a value (CRS 932): a command word with the arguments of one ------

_START_CMD = re.compile(
    r"^\s*(?:/(?:usr/(?:local/)?)?s?bin/\w+"  # a binary's path: /bin/ls, /usr/bin/id
    r"|(?:cat|ls|head|tail|more|less|nl|tac|grep|find|chmod|rm|cp|mv|touch|dir|type|file)\s+"
    r"(?:-{1,2}\w+\s+)*(?:/(?:(?:etc|bin|usr|tmp|var|proc|dev|home|root|opt|boot)\b|\s|$)"
    r"|[a-z]:\\)"
    r"|(?:curl|wget|fetch|lwp-download)\s+(?:-{1,2}\w+\s+)*(?:https?|ftp)://"
    r"|(?:nc|ncat|netcat|socat|telnet)\s+(?:-\w+\s+)*(?:-\w*[el]\w*\s|\d{1,3}(?:\.\d{1,3}){3})"
    r"|(?:ls|netstat|uname|ifconfig|ipconfig|ps|id|ping|nslookup|whoami|tasklist|systeminfo)"
    r"\s+(?:-{1,2}|/)[a-z]+\b(?!\s+\w+\s+\w)"
    r"|net1?\s+(?:user|localgroup|group|view|share|use|start|stop|accounts)\b"
    r"|netsh\s+(?:firewall|advfirewall|interface|wlan|winhttp)\b"
    r"|reg(?:\.exe)?\s+(?:add|query|delete|save|export)\s+['\"]?HK"
    r"|(?:echo|printf)\s+.*>\s*\S+\.(?:php\d?|phtml|jsp|aspx?|sh|py|pl|cgi)\b"
    r"|(?:powershell|pwsh|cmd)(?:\.exe)?\s+[-/]\w+)", re.I)


def command_shape(value: str) -> str | None:
    """A value that *is* a shell command (no separator needed: the application runs it)."""
    m = _START_CMD.match(value)
    return f"command {m[0].strip()[:40]}" if m else None


# --- files: absolute paths into system directories, sensitive files (CRS 930120, 930130) -------

# Directories an application never takes as a parameter: Unix system trees, Windows system and
# server install trees (the roots of lfi-os-files.data's entries). /etc, /proc and /sys hold
# nothing an application serves: a path into them is critical (930120 lists most of them).
_SYSTEM_DIR = re.compile(
    r"^\s*(?:[a-z]:[/\\]*|[/\\]+)(?:(?:etc|proc|sys|var|usr|opt|root|boot|bin|sbin|dev|tmp|"
    r"private)[/\\]|(?:windows|winnt|program\s?files(?:\s?\(x86\))?|inetpub|xampp|wamp|appserv|"
    r"lampp|php\d?|mysql|apache\d*(?:\s?group)?|home\d*[/\\](?:bin|\w+[/\\]\.)|system32|"
    r"documents\sand\ssettings|users[/\\]\w+[/\\]appdata)(?:[/\\]|$))", re.I)
_OS_TREE = re.compile(r"^\s*[/\\]+(?:private[/\\])?(?:etc|proc|sys)[/\\]+\w", re.I)
_DRIVE = re.compile(r"^\s*[a-z]:[/\\]?(?:windows|winnt|boot|program|inetpub|xampp|wamp|"
                    r"appserv|php|mysql|apache|home|system32|users|documents|temp)", re.I)
# Files whose name alone says what an attacker wants: credentials, shell histories and dot-files,
# server and language configuration, logs (log poisoning), Windows system files.
_SECRET = (r"\.ht(?:passwd|access|digest)|\.env|\.git[/\\]|\.svn[/\\]|\.bash_\w+|\.bashrc|"
           r"\.profile|\.cshrc|\.zshrc|\.netrc|\.rhosts|\.forward|\.ssh\b|\.my\.cnf|\.pgpass|"
           r"\.\w+_history|\.passwd|\.pass|\.aws[/\\]|\.docker[/\\]|\.kube[/\\]")
_SECRET_FILE = re.compile(
    rf"(?:^|[/\\])(?:{_SECRET}|passwd|master\.passwd|shadow|sudoers|id_[rd]sa|authorized_keys|"
    r"boot\.ini|win\.ini|system\.ini|desktop\.ini|sam|system32|repair|php\d?\.ini|php\.conf|"
    r"my\.cnf|my\.ini|httpd\d?\.conf|apache\d?\.conf|nginx\.conf|lighttpd\.conf|proftpd?\.conf|"
    r"vsftpd\.conf|pure-?ftpd\.\w+|web\.config|applicationhost\.config|global\.asa|"
    r"metabase\.xml|wp-config\.php|(?:access|error)[._]log|acces_log|mysql\.(?:log|err)|"
    r"sess_\S*|sessions)(?=$|[/\\?#\s])", re.I)
_CONFIG_FILE = re.compile(
    r"(?:^|[/\\])_?(?:config(?:\.inc)?|configuration|localsettings|settings|database|"
    r"parameters|users\.db|db|conn(?:ection)?)\.(?:php\d?|inc|asp|aspx|jsp|js|ya?ml|ini|json|"
    r"xml|conf|cfg)(?=$|[/\\?#\s])", re.I)
_BARE_SECRET = re.compile(rf"^\s*(?:\.[/\\])*(?:{_SECRET})", re.I)


def file_shape(value: str) -> tuple[bool, str] | None:
    """(whether it is critical, description) for a value that is an absolute path into a system
    directory or a drive: critical into /etc, /proc, /sys or onto a secret file; None for the
    others (relative links, the site's own paths)."""
    system = _SYSTEM_DIR.match(value) or _DRIVE.match(value)
    if system is None:
        m = _SECRET_FILE.search(value) if value.lstrip()[:1] in ("/", "\\") else None
        if m and m[0].strip("/\\")[:1] == ".":  # /.htpasswd, /.bash_history: a root dot-file
            return True, f"secret file {m[0].strip('/')}"
        return None
    secret = _SECRET_FILE.search(value) or _CONFIG_FILE.search(value)
    if secret:
        return True, f"sensitive file {secret[0].strip('/')}"
    if _OS_TREE.match(value):
        return True, f"OS file {value.strip()[:50]}"
    return False, f"system path {value.strip()[:50]}"


def secret_file(value: str) -> str | None:
    """A secret or configuration file named in ``value`` (after a ``../``), or None."""
    m = _SECRET_FILE.search(value) or _CONFIG_FILE.search(value)
    return m[0].strip("/\\") if m else None


def bare_secret(value: str) -> str | None:
    """A value that is a secret dot-file's name (``.htaccess``, ``./.env``), or None."""
    m = _BARE_SECRET.match(value)
    return m[0].strip() if m else None
