//! AWS managed rule groups Rampart ships: AWS's vendor, group, rule and label names and WCUs, so
//! that web ACLs, overrides and label matches written for AWS work unchanged. The detection logic
//! is Rampart's own, written as ordinary WAF statements (regexes, size limits, and the SQLi and
//! XSS detectors), since AWS publishes what each rule inspects but not its patterns.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html>
//! and <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html>.

use std::sync::LazyLock;

use rampart_core::{Ctx, ServiceError};
use rampart_shapes::generated::wafv2 as shapes;

use super::{Place, invalid_parameter, nonexistent, page};

/// One managed rule group.
pub struct ManagedGroup {
    pub vendor: &'static str,
    pub name: &'static str,
    pub capacity: i64,
    pub description: &'static str,
    /// `awswaf:managed:aws:core-rule-set:`.
    pub namespace: &'static str,
    /// Each rule: its name, its label (after the namespace), and its statement as WAFv2 JSON.
    rules: &'static [(&'static str, &'static str, &'static str)],
    /// The rules whose action is Count (the others block).
    count: &'static [&'static str],
}

/// The prefix of the IP set ARNs by which the IP reputation groups' rules name the operator's
/// IP lists: no IP set of an account has it, and only the managed groups may use it.
pub const LIST_ARN: &str = "arn:aws:wafv2:managed:AWS:iplist/";
/// Likewise, the prefix by which Bot Control's rules name their tests (`category/search_engine`,
/// `signal/non_browser_user_agent`): see [`crate::bots`].
pub const BOT_ARN: &str = "arn:aws:wafv2:managed:AWS:bot/";

/// The IP lists the IP reputation groups match, by rule name: the operator imports them.
pub const IP_LISTS: &[&str] = &[
    "AWSManagedIPReputationList",
    "AWSManagedReconnaissanceList",
    "AWSManagedIPDDoSList",
    "AnonymousIPList",
    "HostingProviderIPList",
];

/// The version every shipped group answers to.
pub const VERSION: &str = "Version_1.0";

// What the statements inspect with: AWS's inspection limits apply (oversized bodies, headers
// and cookies are inspected as far as the limit: CONTINUE).
const DECODE: &str = r#"[{"Priority":0,"Type":"URL_DECODE_UNI"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"}]"#;
/// For XSS: decoded twice (probes arrive encoded inside the encoding), entities and JavaScript
/// escapes undone.
const XSS_DECODE: &str = r#"[{"Priority":0,"Type":"URL_DECODE_UNI"},{"Priority":1,"Type":"URL_DECODE_UNI"},{"Priority":2,"Type":"HTML_ENTITY_DECODE"},{"Priority":3,"Type":"JS_DECODE"}]"#;

static GROUPS: LazyLock<Vec<ManagedGroup>> = LazyLock::new(|| {
    vec![
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesCommonRuleSet",
            capacity: 700,
            description: "Contains rules that are generally applicable to web applications. This provides protection \
                          against exploitation of a wide range of vulnerabilities, including those described in OWASP \
                          publications.",
            namespace: "awswaf:managed:aws:core-rule-set:",
            rules: CORE,
            count: &[],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesSQLiRuleSet",
            capacity: 200,
            description: "Contains rules that allow you to block request patterns associated with exploitation of SQL \
                          databases, like SQL injection attacks.",
            namespace: "awswaf:managed:aws:sql-database:",
            rules: SQL,
            count: &[],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesKnownBadInputsRuleSet",
            capacity: 200,
            description: "Contains rules that allow you to block request patterns that are known to be invalid and are \
                          associated with exploitation or discovery of vulnerabilities.",
            namespace: "awswaf:managed:aws:known-bad-inputs:",
            rules: KNOWN_BAD,
            count: &[],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesAdminProtectionRuleSet",
            capacity: 100,
            description: "Contains rules that allow you to block external access to exposed admin pages.",
            namespace: "awswaf:managed:aws:admin-protection:",
            rules: ADMIN,
            count: &[],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesLinuxRuleSet",
            capacity: 200,
            description: "Contains rules that block request patterns associated with exploitation of vulnerabilities \
                          specific to Linux, including LFI attacks. This can help prevent attacks that expose file \
                          contents or execute code for which the attacker should not have had access.",
            namespace: "awswaf:managed:aws:linux-os:",
            rules: LINUX,
            count: &[],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesUnixRuleSet",
            capacity: 100,
            description: "Contains rules that block request patterns associated with exploiting vulnerabilities specific \
                          to POSIX/POSIX-like OS, including LFI attacks. This can help prevent attacks that expose file \
                          contents or execute code for which access should not been allowed.",
            namespace: "awswaf:managed:aws:posix-os:",
            rules: POSIX,
            count: &[],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesPHPRuleSet",
            capacity: 100,
            description: "Contains rules that block request patterns associated with exploiting vulnerabilities specific \
                          to the use of the PHP, including injection of unsafe PHP functions. This can help prevent \
                          exploits that allow an attacker to remotely execute code or commands.",
            namespace: "awswaf:managed:aws:php-app:",
            rules: PHP,
            count: &[],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesWordPressRuleSet",
            capacity: 100,
            description: "The WordPress Applications group contains rules that block request patterns associated with \
                          the exploitation of vulnerabilities specific to WordPress sites.",
            namespace: "awswaf:managed:aws:wordpress-app:",
            rules: WORDPRESS,
            count: &[],
        },
        // The IP reputation groups match the client's own address (never a forwarded one, as
        // AWS's) against lists the operator imports (`--waf-ip-lists`); AWS's come from its threat
        // intelligence. See <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-ip-rep.html>.
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesAmazonIpReputationList",
            capacity: 25,
            description: "Contains rules that are based on Amazon threat intelligence; in Rampart, on the IP lists the \
                          operator imports (--waf-ip-lists). This is useful if you would like to block sources \
                          associated with bots or other threats.",
            namespace: "awswaf:managed:aws:amazon-ip-list:",
            rules: IP_REPUTATION,
            count: &["AWSManagedIPDDoSList"],
        },
        ManagedGroup {
            vendor: "AWS",
            name: "AWSManagedRulesAnonymousIpList",
            capacity: 50,
            description: "Contains rules that allow you to block requests from services that allow obfuscation of viewer \
                          identity. This can include request originating from VPN, proxies, Tor nodes, and hosting \
                          providers; in Rampart, from the IP lists the operator imports (--waf-ip-lists).",
            namespace: "awswaf:managed:aws:anonymous-ip-list:",
            rules: ANONYMOUS,
            count: &[],
        },
        // Both inspection levels (the `TGT_` rules only at the targeted one); see `crate::bots`.
        ManagedGroup {
            vendor: "AWS",
            name: BOT_CONTROL,
            capacity: 50,
            description: "Provides protection against automated bots that can consume excess resources, skew business \
                          metrics, cause downtime, or perform malicious activities. In Rampart: the common and targeted \
                          inspection levels (without the machine-learning rules), with bots verified by the \
                          operator's VerifiedBot_<name> lists (--waf-ip-lists).",
            namespace: "awswaf:managed:aws:bot-control:",
            rules: BOT_RULES.as_slice(),
            count: &[],
        },
    ]
});

const EC2_METADATA: &str = r"(?i)169\.254\.169\.254|2852039166|0xa9fea9fe|0251\.0376\.0251\.0376|::ffff:a9fe:a9fe|fd00:ec2::254|instance-data\b";
/// A `..` segment between separators (Tomcat's `..;/` too), with the overlong UTF-8 dot, slash
/// and backslash (`%c0%ae`, `%c0%af`, `%c1%9c`) counted as theirs, or a system file named
/// outright. Overlong forms are invalid UTF-8 that no honest client sends.
const LFI: &str = r"(?-u:(?:^|[/\\]|\xc0\xaf|\xc1\x9c)(?:\.|\xc0\xae)(?:\.|\xc0\xae)+;?(?:[/\\]|\xc0\xaf|\xc1\x9c|$))|(?i)\b(?:etc/(?:passwd|shadow)|win(?:dows)?[/\\]win\.ini|boot\.ini)\b";
const RFI: &str = r"(?i)(?:https?|ftps?|file)://\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}";
const EXTENSIONS: &str = r"(?i)\.(?:log|ini|bak|old|sql|conf|cfg|env|swp|backup|dat|db|mdb|htaccess|htpasswd|passwd|pem|key|config|asa|asax)(?:$|[?;/])";

const QUERY_ARGS: &str = r#"{"AllQueryArguments":{}}"#;
const URI: &str = r#"{"UriPath":{}}"#;
const BODY: &str = r#"{"Body":{"OversizeHandling":"CONTINUE"}}"#;
const COOKIES: &str = r#"{"Cookies":{"MatchPattern":{"All":{}},"MatchScope":"ALL","OversizeHandling":"CONTINUE"}}"#;
const HEADERS: &str = r#"{"Headers":{"MatchPattern":{"All":{}},"MatchScope":"ALL","OversizeHandling":"CONTINUE"}}"#;
const QUERY: &str = r#"{"QueryString":{}}"#;
/// Decoded up to three times: attackers nest encodings (`%252e`, `%%32%65`). No path
/// normalization: it would resolve the very `..` segments the rules look for.
const TWICE: &str = r#"[{"Priority":0,"Type":"URL_DECODE_UNI"},{"Priority":1,"Type":"URL_DECODE_UNI"},{"Priority":2,"Type":"URL_DECODE_UNI"}]"#;
/// The regexes are case-insensitive: decoding is all they need.
const ONCE: &str = r#"[{"Priority":0,"Type":"URL_DECODE_UNI"}]"#;

// Each rule: AWS's rule name, its label's name, and its statement (JSON, or `KIND:FIELD` for one
// of the detections below over one field).
static CORE: &[(&str, &str, &str)] = &[
    (
        "NoUserAgent_HEADER",
        "NoUserAgent_Header",
        r#"{"NotStatement":{"Statement":{"SizeConstraintStatement":{"FieldToMatch":{"SingleHeader":{"Name":"user-agent"}},"ComparisonOperator":"GT","Size":0,"TextTransformations":[{"Priority":0,"Type":"NONE"}]}}}}"#,
    ),
    ("UserAgent_BadBots_HEADER", "BadBots_Header", "BADBOTS"),
    (
        "SizeRestrictions_QUERYSTRING",
        "SizeRestrictions_QueryString",
        r#"{"SizeConstraintStatement":{"FieldToMatch":{"QueryString":{}},"ComparisonOperator":"GT","Size":2048,"TextTransformations":[{"Priority":0,"Type":"NONE"}]}}"#,
    ),
    (
        "SizeRestrictions_Cookie_HEADER",
        "SizeRestrictions_Cookie_Header",
        r#"{"SizeConstraintStatement":{"FieldToMatch":{"SingleHeader":{"Name":"cookie"}},"ComparisonOperator":"GT","Size":10240,"TextTransformations":[{"Priority":0,"Type":"NONE"}]}}"#,
    ),
    (
        "SizeRestrictions_BODY",
        "SizeRestrictions_Body",
        r#"{"SizeConstraintStatement":{"FieldToMatch":{"Body":{"OversizeHandling":"MATCH"}},"ComparisonOperator":"GT","Size":8192,"TextTransformations":[{"Priority":0,"Type":"NONE"}]}}"#,
    ),
    (
        "SizeRestrictions_URIPATH",
        "SizeRestrictions_URIPath",
        r#"{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"GT","Size":1024,"TextTransformations":[{"Priority":0,"Type":"NONE"}]}}"#,
    ),
    ("EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_Body", "EC2:BODY"),
    ("EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_Cookie", "EC2:COOKIES"),
    ("EC2MetaDataSSRF_URIPATH", "EC2MetaDataSSRF_URIPath", "EC2:URI"),
    ("EC2MetaDataSSRF_QUERYARGUMENTS", "EC2MetaDataSSRF_QueryArguments", "EC2:QUERY_ARGS"),
    ("GenericLFI_QUERYARGUMENTS", "GenericLFI_QueryArguments", "LFI:QUERY_ARGS"),
    ("GenericLFI_URIPATH", "GenericLFI_URIPath", "LFI:URI"),
    ("GenericLFI_BODY", "GenericLFI_Body", "LFI:BODY"),
    ("RestrictedExtensions_URIPATH", "RestrictedExtensions_URIPath", "EXT:URI"),
    ("RestrictedExtensions_QUERYARGUMENTS", "RestrictedExtensions_QueryArguments", "EXT:QUERY_ARGS"),
    ("GenericRFI_QUERYARGUMENTS", "GenericRFI_QueryArguments", "RFI:QUERY_ARGS"),
    ("GenericRFI_BODY", "GenericRFI_Body", "RFI:BODY"),
    ("GenericRFI_URIPATH", "GenericRFI_URIPath", "RFI:URI"),
    ("CrossSiteScripting_COOKIE", "CrossSiteScripting_Cookie", "XSS:COOKIES"),
    ("CrossSiteScripting_QUERYARGUMENTS", "CrossSiteScripting_QueryArguments", "XSS:QUERY_ARGS"),
    ("CrossSiteScripting_BODY", "CrossSiteScripting_Body", "XSS:BODY"),
    ("CrossSiteScripting_URIPATH", "CrossSiteScripting_URIPath", "XSS:URI"),
];

static SQL: &[(&str, &str, &str)] = &[
    ("SQLi_QUERYARGUMENTS", "SQLi_QueryArguments", "SQLI:QUERY_ARGS"),
    ("SQLiExtendedPatterns_QUERYARGUMENTS", "SQLiExtendedPatterns_QueryArguments", "SQLX:QUERY_ARGS"),
    ("SQLi_BODY", "SQLi_Body", "SQLI:BODY"),
    ("SQLiExtendedPatterns_BODY", "SQLiExtendedPatterns_Body", "SQLX:BODY"),
    ("SQLi_COOKIE", "SQLi_Cookie", "SQLI:COOKIES"),
];

static KNOWN_BAD: &[(&str, &str, &str)] = &[
    ("JavaDeserializationRCE_HEADER", "JavaDeserializationRCE_Header", "JAVA:HEADERS"),
    ("JavaDeserializationRCE_BODY", "JavaDeserializationRCE_Body", "JAVA:BODY"),
    ("JavaDeserializationRCE_URIPATH", "JavaDeserializationRCE_URIPath", "JAVA:URI"),
    ("JavaDeserializationRCE_QUERYSTRING", "JavaDeserializationRCE_QueryString", "JAVA:QUERY"),
    ("Host_localhost_HEADER", "Host_Localhost_Header", "LOCALHOST"),
    (
        "PROPFIND_METHOD",
        "Propfind_Method",
        r#"{"ByteMatchStatement":{"SearchString":"UFJPUEZJTkQ=","FieldToMatch":{"Method":{}},"TextTransformations":[{"Priority":0,"Type":"NONE"}],"PositionalConstraint":"EXACTLY"}}"#,
    ),
    ("ExploitablePaths_URIPATH", "ExploitablePaths_URIPath", "PATHS:URI"),
    ("Log4JRCE_HEADER", "Log4JRCE_Header", "LOG4J:HEADERS"),
    ("Log4JRCE_QUERYSTRING", "Log4JRCE_QueryString", "LOG4J:QUERY"),
    ("Log4JRCE_BODY", "Log4JRCE_Body", "LOG4J:BODY"),
    ("Log4JRCE_URIPATH", "Log4JRCE_URIPath", "LOG4J:URI"),
];

/// Bot Control's name.
pub const BOT_CONTROL: &str = "AWSManagedRulesBotControlRuleSet";

/// Bot Control's common-level rules: a rule per category, then the signals (built once).
static BOT_RULES: LazyLock<Vec<(&'static str, &'static str, &'static str)>> = LazyLock::new(|| {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let categories = crate::bots::CATEGORIES
        .iter()
        .map(|(rule, c)| (*rule, leak(format!("bot:category:{c}")), leak(format!("BOT:category/{c}"))));
    let signals = crate::bots::SIGNALS
        .iter()
        .map(|(rule, s)| (*rule, leak(format!("signal:{s}")), leak(format!("BOT:signal/{s}"))));
    let targeted = crate::bots::TARGETED
        .iter()
        .map(|(rule, test, label, _)| (*rule, *label, leak(format!("BOT:targeted/{test}"))));
    categories.chain(signals).chain(targeted).collect()
});

static IP_REPUTATION: &[(&str, &str, &str)] = &[
    ("AWSManagedIPReputationList", "AWSManagedIPReputationList", "LIST:AWSManagedIPReputationList"),
    ("AWSManagedReconnaissanceList", "AWSManagedReconnaissanceList", "LIST:AWSManagedReconnaissanceList"),
    ("AWSManagedIPDDoSList", "AWSManagedIPDDoSList", "LIST:AWSManagedIPDDoSList"),
];

static ANONYMOUS: &[(&str, &str, &str)] = &[
    ("AnonymousIPList", "AnonymousIPList", "LIST:AnonymousIPList"),
    ("HostingProviderIPList", "HostingProviderIPList", "LIST:HostingProviderIPList"),
];

static ADMIN: &[(&str, &str, &str)] = &[("AdminProtection_URIPATH", "AdminProtection_URIPath", "ADMIN:URI")];

// The use-case groups' names and labels, as AWS documents them.
// See <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html>.
static LINUX: &[(&str, &str, &str)] = &[
    ("LFI_URIPATH", "LFI_URIPath", "LINUX:URI"),
    ("LFI_QUERYSTRING", "LFI_QueryString", "LINUX:QUERY"),
    ("LFI_HEADER", "LFI_Header", "LINUX:HEADERS"),
];

static POSIX: &[(&str, &str, &str)] = &[
    ("UNIXShellCommandsVariables_QUERYARGUMENTS", "UNIXShellCommandsVariables_QUERYARGUMENTS", "SHELL:QUERY_ARGS"),
    ("UNIXShellCommandsVariables_BODY", "UNIXShellCommandsVariables_BODY", "SHELL:BODY"),
];

static PHP: &[(&str, &str, &str)] = &[
    ("PHPHighRiskMethodsVariables_HEADER", "PHPHighRiskMethodsVariables_Header", "PHP:HEADERS"),
    ("PHPHighRiskMethodsVariables_QUERYSTRING", "PHPHighRiskMethodsVariables_QueryString", "PHP:QUERY"),
    ("PHPHighRiskMethodsVariables_BODY", "PHPHighRiskMethodsVariables_Body", "PHP:BODY"),
];

static WORDPRESS: &[(&str, &str, &str)] = &[
    ("WordPressExploitableCommands_QUERYSTRING", "WordPressExploitableCommands_QUERYSTRING", "WPCMD:QUERY"),
    ("WordPressExploitablePaths_URIPATH", "WordPressExploitablePaths_URIPATH", "WPPATH:URI"),
];

/// Linux files an attacker reads to learn the system (`/proc/version`, `/etc/passwd`), by path.
const LINUX_FILES: &str = r"(?i)(?:^|[/\\\s=:'\x22]|\.\.)(?:proc/(?:self|version|cpuinfo|meminfo|mounts|net/|\d+/)|etc/(?:passwd|shadow|group|gshadow|crontab|sudoers|fstab|mtab|os-release|lsb-release|ssh/|ssl/private)|var/log/|var/run/secrets|root/\.|home/[^/\s]+/\.(?:ssh|bash_history|aws)|dev/(?:tcp|udp)/)";
/// A shell command after a command separator, substitution or pipe; a shell variable named
/// outright; a server-side include's exec; as regexes of at most 512 characters each (AWS's
/// limit on a RegexString).
const SHELL_COMMANDS: &[&str] = &[
    // A backtick starts a command substitution, but not a Markdown code fence (```bash).
    r"(?i)(?:[;|\n\r]|(?:^|[^`])`|\\n|&&|\$\(|\|\|)\s*[\x22'(]*\s*(?:/?(?:usr/)?(?:local/)?s?bin/)?(?:id|ls|cat|uname|whoami|wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|csh|python[23]?|perl|ruby|php|ping|nslookup|dig|host|sleep|echo|printf|chmod|chown|rm|touch|cp|mv|head|tail|more|less|netstat|ifconfig|ip|ps|kill|sudo|su)\b",
    r"(?i)(?:[;|\n\r]|(?:^|[^`])`|\\n|&&|\$\(|\|\|)\s*[\x22'(]*\s*(?:/?(?:usr/)?(?:local/)?s?bin/)?(?:telnet|ssh|nohup|base64|xxd|awk|sed|find|grep|env|printenv|dir|type|systeminfo|ipconfig|net|tasklist|powershell|cmd|reboot|shutdown|passwd|crontab|tftp|ftp|sftp|socat|busybox)\b",
    r"(?i)\$\{?(?:IFS|HOME|PATH|SHELL|USER|PWD|HOSTNAME|ENV)\b|<!--\s*#\s*exec\b|/bin/(?:ba|z|k|c)?sh\b",
    // After a lone `&` (a background separator, but also prose's "and"): only what is a command
    // beyond doubt, with its arguments' shape.
    r"(?i)&\s*(?:ping\s+-[a-z]|curl\s+\S|wget\s+\S|id\s*$|whoami\b|uname\b|ifconfig\b|ipconfig\b|netstat\b|dir\s+[a-z]:|cat\s+/|ls\s+-|nslookup\s|sleep\s+\d|systeminfo\b)",
];
/// PHP's dangerous functions called, its superglobals, and its stream wrappers.
const PHP_CODE: &str = r"(?i)\b(?:fsockopen|pfsockopen|shell_exec|passthru|proc_open|popen|pcntl_exec|system|exec|eval|assert|base64_decode|gzinflate|gzuncompress|str_rot13|create_function|call_user_func(?:_array)?|file_get_contents|file_put_contents|fopen|readfile|highlight_file|show_source|phpinfo|move_uploaded_file|unserialize)\(|\$_(?:GET|POST|REQUEST|COOKIE|SERVER|FILES|ENV|SESSION)\b|\$GLOBALS\b|<\?php|\bphp://(?:input|filter|memory|temp|fd)|\b(?:expect|phar|zip|data)://";
const WP_COMMANDS: &str = r"(?i)\bdo-reset-wordpress\b|action=(?:revslider_show_image|revslider_ajax_action|duplicator_download|wpgdprc_process_action|upload-theme)\b|\bwp_ajax_(?:nopriv_)?(?:revslider|duplicator)";
const WP_PATHS: &str = r"(?i)/(?:xmlrpc\.php|wp-config\.php(?:\.bak|~|\.old)?|wp-content/debug\.log|wp-content/uploads/.*\.php|wp-includes/.*\.php|wp-admin/(?:install|setup-config)\.php)(?:$|[?/])";

/// What the XSS detector lets through: an event handler attribute on any tag, a tag hidden
/// inside another (`<scr<script>ipt>`), and script URIs.
const XSS_EXTENDED: &str = r"(?i)<[a-z0-9%]+[\s/%]*[^>]*?[\s/\x22']on[a-z%0-9]{3,}\s*=|<scr<script|(?:java|vb|live)script\s*:\s*[^\s]|data:text/html[;,]|<(?:script|iframe|object|embed)\b";
const BAD_BOTS: &str = r"(?i)\b(?:nessus|nmap|nikto|sqlmap|masscan|zgrab|dirbuster|gobuster|wpscan|nuclei|acunetix|netsparker|w3af|openvas|havij|zmeu|morfeus|jorgee|fimap|arachni|skipfish)\b";
/// SQL fragments libinjection lets through alone, as regexes of at most 512 characters each
/// (AWS's limit on a RegexString).
const SQL_EXTENDED: &[&str] = &[
    // Time and stacking primitives: `sleep(5)` and `benchmark(1000000,…)`, not "sleep (8 hours)".
    r"(?i)\bunion\b[\s\S]{0,100}?\bselect\b|\b(?:sleep|pg_sleep)\s*\(\s*[\d.]+\s*\)|\bbenchmark\s*\(\s*\d+\s*,|\bwaitfor\s+delay\b|\b(?:information_schema|sysobjects|pg_catalog)\b|;\s*(?:drop|shutdown|exec)\b|\bxp_cmdshell\b|\bload_file\s*\(|\binto\s+(?:out|dump)file\b",
    // A boolean comparison breaking out of a string or parenthesis (`' AND a=b`), or opening a
    // value or form field (` OR x=x`); within a value, after a space,
    // only a tautology of numbers or strings (`OR 1=1`), since query languages (JQL, OData,
    // Lucene) compare words after AND; a comment after a quote (`admin'--`, `'#` at the end of a
    // value, not `"# Heading`).
    r"(?i)(?:['\x22)=&]|^)\s*(?:or|and|having|xor)\s+['\x22]?[\w.]+['\x22]?\s*(?:=|<>|!=|<=>|\blike\b)\s*['\x22]?[\w.]+|\s(?:or|and|having|xor)\s+(?:\d+|['\x22][\w.]*['\x22])\s*(?:=|<>|!=|<=>|\blike\b)\s*(?:\d+|['\x22][\w.]*)|\b(?:or|and)\s+(?:true|false)\b\s*(?:--|#|/\*|$)|['\x22]\s*(?:--(?:[^\w-]|$)|#(?:$|[&\r\n])|/\*)",
    r"(?i)\border\s+by\s+\d+\s*(?:--|#|/\*|$)|\b(?:and|or|rlike|like|in)\s*\(\s*select\b|@@(?:version|datadir|hostname|basedir)\b|\bcase\s+when\b[\s\S]{0,100}?\bthen\b",
];
const JAVA_RCE: &str = r"(?i)java\.lang\.(?:runtime|processbuilder)|getruntime\(\)\.exec|class\.module\.classloader|spring\.cloud\.function\.routing-expression|\bt\(java\.|\brO0AB|\baced0005";
const LOCALHOST: &str = r"(?i)^(?:[a-z0-9.-]*\.)?localhost(?:\.localdomain)?\.?(?::\d+)?$";
const EXPLOITABLE: &str = r"(?i)/(?:web-inf|meta-inf)(?:/|$)|/\.(?:git|svn|hg)/|/\.(?:env|aws|ssh)(?:/|$)|/wp-config\.php|/server-status\b|/actuator/(?:env|heapdump|gateway)\b";
const LOG4J: &str = r"(?i)\$\{[^\n]{0,60}?(?:jndi|\$\{(?:lower|upper|env|sys|::-))";
const ADMIN_PATHS: &str =
    r"(?i)^/(?:admin|administrator|wp-admin|phpmyadmin|sqlmanager|manager/html|cpanel|adminer|admin\.php)(?:[/.?]|$)";

/// A JSON string's content for `text`.
fn esc(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn field(name: &str) -> &'static str {
    match name {
        "QUERY_ARGS" => QUERY_ARGS,
        "URI" => URI,
        "BODY" => BODY,
        "COOKIES" => COOKIES,
        "HEADERS" => HEADERS,
        _ => QUERY,
    }
}

fn regex(pattern: &str, field: &str, transforms: &str) -> String {
    format!(
        r#"{{"RegexMatchStatement":{{"RegexString":"{}","FieldToMatch":{field},"TextTransformations":{transforms}}}}}"#,
        esc(pattern)
    )
}

/// A rule's statement from its shorthand (`KIND:FIELD`) or its JSON.
fn statement(spec: &str) -> String {
    if spec.starts_with('{') {
        return spec.to_owned();
    }
    let (kind, f) = spec.split_once(':').unwrap_or((spec, "URI"));
    match kind {
        "LIST" => format!(r#"{{"IPSetReferenceStatement":{{"ARN":"{LIST_ARN}{f}"}}}}"#),
        "BOT" => format!(r#"{{"IPSetReferenceStatement":{{"ARN":"{BOT_ARN}{f}"}}}}"#),
        "BADBOTS" => regex(BAD_BOTS, r#"{"SingleHeader":{"Name":"user-agent"}}"#, ONCE),
        "LOCALHOST" => regex(LOCALHOST, r#"{"SingleHeader":{"Name":"host"}}"#, r#"[{"Priority":0,"Type":"NONE"}]"#),
        "EC2" => regex(EC2_METADATA, field(f), ONCE),
        "LFI" => regex(LFI, field(f), TWICE),
        "EXT" => regex(EXTENSIONS, field(f), TWICE),
        "RFI" => regex(RFI, field(f), ONCE),
        "SQLX" => {
            let each: Vec<String> = SQL_EXTENDED.iter().map(|p| regex(p, field(f), DECODE)).collect();
            format!(r#"{{"OrStatement":{{"Statements":[{}]}}}}"#, each.join(","))
        }
        "JAVA" => regex(JAVA_RCE, field(f), ONCE),
        "PATHS" => regex(EXPLOITABLE, field(f), TWICE),
        "LOG4J" => regex(
            LOG4J,
            field(f),
            r#"[{"Priority":0,"Type":"URL_DECODE_UNI"},{"Priority":1,"Type":"JS_DECODE"},{"Priority":2,"Type":"LOWERCASE"}]"#,
        ),
        "ADMIN" => regex(ADMIN_PATHS, field(f), TWICE),
        "LINUX" => regex(LINUX_FILES, field(f), TWICE),
        "SHELL" => {
            let decoded = r#"[{"Priority":0,"Type":"URL_DECODE_UNI"},{"Priority":1,"Type":"URL_DECODE_UNI"},{"Priority":2,"Type":"HTML_ENTITY_DECODE"}]"#;
            // Quotes and carets inside a command (`c'a't`, `w^h^o^a^m^i`) undone.
            let command_line = r#"[{"Priority":0,"Type":"URL_DECODE_UNI"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"},{"Priority":2,"Type":"REMOVE_NULLS"},{"Priority":3,"Type":"CMD_LINE"}]"#;
            let each: Vec<String> = SHELL_COMMANDS
                .iter()
                .flat_map(|p| [regex(p, field(f), decoded), regex(p, field(f), command_line)])
                .collect();
            format!(r#"{{"OrStatement":{{"Statements":[{}]}}}}"#, each.join(","))
        }
        "PHP" => regex(PHP_CODE, field(f), TWICE),
        "WPCMD" => regex(WP_COMMANDS, field(f), ONCE),
        "WPPATH" => regex(WP_PATHS, field(f), TWICE),
        "XSS" => format!(
            r#"{{"OrStatement":{{"Statements":[{{"XssMatchStatement":{{"FieldToMatch":{f},"TextTransformations":{XSS_DECODE}}}}},{}]}}}}"#,
            regex(XSS_EXTENDED, field(f), XSS_DECODE),
            f = field(f)
        ),
        _ => format!(r#"{{"SqliMatchStatement":{{"FieldToMatch":{},"TextTransformations":{DECODE}}}}}"#, field(f)),
    }
}

impl ManagedGroup {
    /// The group as a rule group: its rules in order, each blocking and adding its label.
    pub fn rule_group(&self) -> Option<shapes::RuleGroup> {
        let rules: Vec<String> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, (name, label, spec))| {
                let targeted = crate::bots::TARGETED.iter().find(|t| t.0 == *name).map(|t| t.3);
                let action = if self.count.contains(name) { "Count" } else { targeted.unwrap_or("Block") };
                format!(
                    r#"{{"Name":"{name}","Priority":{i},"Action":{{"{action}":{{}}}},"Statement":{},"RuleLabels":[{{"Name":"{}{label}"}}],"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"{name}"}}}}"#,
                    statement(spec),
                    self.namespace
                )
            })
            .collect();
        let rules = rules
            .iter()
            .map(|json| rampart_wire::json::from_wire::<shapes::Rule>(json.as_bytes()))
            .collect::<Option<Vec<_>>>()?;
        Some(shapes::RuleGroup {
            name: self.name.to_owned(),
            id: format!("{}-{}", self.vendor, self.name),
            capacity: self.capacity,
            arn: format!("arn:aws:wafv2:managed:{}:{}", self.vendor, self.name),
            description: Some(self.description.to_owned()),
            rules: Some(rules),
            visibility_config: shapes::VisibilityConfig {
                sampled_requests_enabled: true,
                cloud_watch_metrics_enabled: true,
                metric_name: self.name.to_owned(),
            },
            label_namespace: Some(self.namespace.to_owned()),
            custom_response_bodies: None,
            available_labels: Some(self.labels()),
            consumed_labels: Some(Vec::new()),
        })
    }

    /// The labels the group can add: its rules' own, and for Bot Control also each bot's name,
    /// `bot:verified`, and the token labels of its token management.
    fn labels(&self) -> Vec<shapes::LabelSummary> {
        let mut labels: Vec<String> =
            self.rules.iter().map(|(_, label, _)| format!("{}{label}", self.namespace)).collect();
        if self.name == BOT_CONTROL {
            for name in crate::bots::names() {
                labels.push(format!("{}bot:name:{name}", self.namespace));
            }
            labels.push(format!("{}bot:verified", self.namespace));
            for (_, level) in crate::bots::SESSION_VOLUME.iter().skip(1) {
                labels.push(format!("{}targeted:aggregate:volumetric:session:{level}", self.namespace));
            }
            for prefix in ["awswaf:managed:token:", "awswaf:managed:captcha:"] {
                for status in ["accepted", "absent", "rejected"] {
                    labels.push(format!("{prefix}{status}"));
                }
                for reason in ["not_solved", "expired", "domain_mismatch", "invalid"] {
                    labels.push(format!("{prefix}rejected:{reason}"));
                }
            }
        }
        labels.into_iter().map(|name| shapes::LabelSummary { name: Some(name) }).collect()
    }
}

/// Every managed group Rampart ships.
pub fn all() -> impl Iterator<Item = &'static ManagedGroup> {
    GROUPS.iter()
}

/// The managed group a vendor and name name.
pub fn managed_group(vendor: &str, name: &str) -> Option<&'static ManagedGroup> {
    GROUPS.iter().find(|g| g.vendor == vendor && g.name == name)
}

/// The compiled rule group of a managed group (built once).
pub fn managed_rule_group(vendor: &str, name: &str) -> Option<&'static shapes::RuleGroup> {
    static BUILT: LazyLock<Vec<(String, Option<shapes::RuleGroup>)>> =
        LazyLock::new(|| GROUPS.iter().map(|g| (format!("{}:{}", g.vendor, g.name), g.rule_group())).collect());
    let key = format!("{vendor}:{name}");
    BUILT.iter().find(|(k, _)| *k == key).and_then(|(_, g)| g.as_ref())
}

/// Checks a ManagedRuleGroupStatement's group and version.
pub(crate) fn check(m: &shapes::ManagedRuleGroupStatement) -> Result<&'static ManagedGroup, ServiceError> {
    let group = managed_group(&m.vendor_name, &m.name).ok_or_else(nonexistent)?;
    if m.version.as_deref().is_some_and(|v| v != VERSION) {
        return Err(nonexistent());
    }
    Ok(group)
}

/// Whether a Bot Control statement asks for the targeted inspection level (its `TGT_` rules).
pub(crate) fn targeted(m: &shapes::ManagedRuleGroupStatement) -> bool {
    m.managed_rule_group_configs
        .iter()
        .flatten()
        .filter_map(|c| c.aws_managed_rules_bot_control_rule_set.as_ref())
        .any(|b| b.inspection_level == "TARGETED")
}

pub fn list_available_managed_rule_groups(
    ctx: &Ctx<'_>,
    input: shapes::ListAvailableManagedRuleGroupsRequest,
) -> Result<shapes::ListAvailableManagedRuleGroupsResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let all: Vec<shapes::ManagedRuleGroupSummary> = GROUPS
        .iter()
        .map(|g| shapes::ManagedRuleGroupSummary {
            vendor_name: Some(g.vendor.to_owned()),
            name: Some(g.name.to_owned()),
            versioning_supported: Some(true),
            description: Some(g.description.to_owned()),
        })
        .collect();
    let (groups, next_marker) = page(all, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListAvailableManagedRuleGroupsResponse { next_marker, managed_rule_groups: Some(groups) })
}

pub fn describe_managed_rule_group(
    ctx: &Ctx<'_>,
    input: shapes::DescribeManagedRuleGroupRequest,
) -> Result<shapes::DescribeManagedRuleGroupResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let group = managed_group(&input.vendor_name, &input.name).ok_or_else(nonexistent)?;
    if input.version_name.as_deref().is_some_and(|v| v != VERSION) {
        return Err(nonexistent());
    }
    let built = managed_rule_group(group.vendor, group.name)
        .ok_or_else(|| invalid_parameter("MANAGED_RULE_SET", group.name, "The managed rule group does not build."))?;
    let rules = built
        .rules
        .iter()
        .flatten()
        .map(|r| shapes::RuleSummary { name: Some(r.name.clone()), action: r.action.clone() })
        .collect();
    Ok(shapes::DescribeManagedRuleGroupResponse {
        version_name: Some(VERSION.to_owned()),
        sns_topic_arn: None,
        capacity: Some(group.capacity),
        rules: Some(rules),
        label_namespace: Some(group.namespace.to_owned()),
        available_labels: Some(group.labels()),
        consumed_labels: Some(Vec::new()),
    })
}

pub fn list_available_managed_rule_group_versions(
    ctx: &Ctx<'_>,
    input: shapes::ListAvailableManagedRuleGroupVersionsRequest,
) -> Result<shapes::ListAvailableManagedRuleGroupVersionsResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    managed_group(&input.vendor_name, &input.name).ok_or_else(nonexistent)?;
    Ok(shapes::ListAvailableManagedRuleGroupVersionsResponse {
        next_marker: None,
        versions: Some(vec![shapes::ManagedRuleGroupVersion {
            name: Some(VERSION.to_owned()),
            last_update_timestamp: None,
        }]),
        current_default_version: Some(VERSION.to_owned()),
    })
}
