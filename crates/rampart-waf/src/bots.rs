//! Bot Control (`AWSManagedRulesBotControlRuleSet`). Its common level: self-identifying bots told
//! by their user agent, with AWS's category and name labels, and the signals of bots that do not
//! say what they are (a user agent no browser sends, an automated browser). Its targeted level's
//! rules ([`TARGETED`]), which the engine's `targeted` tests decide. Pure.
//!
//! AWS verifies a bot (Googlebot really from Google) with its own data; Rampart verifies a bot
//! whose client address is on the operator's list for it (`VerifiedBot_<name>`, e.g. the ranges
//! Google publishes for Googlebot). A verified bot is labelled and let through; an unverified
//! one is blocked by its category's rule.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-bot.html>.

use std::sync::LazyLock;

/// A bot a user agent names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bot {
    /// Its name in AWS's labels (`bot:name:googlebot`).
    pub name: &'static str,
    /// Its category (`bot:category:search_engine`).
    pub category: &'static str,
}

/// Bot Control's categories, by rule name, in the group's order.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("CategoryAdvertising", "advertising"),
    ("CategoryArchiver", "archiver"),
    ("CategoryContentFetcher", "content_fetcher"),
    ("CategoryEmailClient", "email_client"),
    ("CategoryHttpLibrary", "http_library"),
    ("CategoryLinkChecker", "link_checker"),
    ("CategoryMiscellaneous", "miscellaneous"),
    ("CategoryMonitoring", "monitoring"),
    ("CategoryScrapingFramework", "scraping_framework"),
    ("CategorySearchEngine", "search_engine"),
    ("CategorySecurity", "security"),
    ("CategorySeo", "seo"),
    ("CategorySocialMedia", "social_media"),
];

/// Bot Control's signals, by rule name.
pub const SIGNALS: &[(&str, &str)] = &[
    ("SignalAutomatedBrowser", "automated_browser"),
    ("SignalKnownBotDataCenter", "known_bot_data_center"),
    ("SignalNonBrowserUserAgent", "non_browser_user_agent"),
];

/// Bot Control's targeted-level rules (`InspectionLevel` `TARGETED`): the rule, its test, the
/// label it adds (under the group's namespace) and its action, as AWS ships them. The machine
/// learning rules (`TGT_ML_CoordinatedActivity…`) are not among them: Rampart has no model of
/// coordinated traffic, and does not pretend to (overrides naming them are ignored, as AWS
/// ignores overrides of rules a group does not have).
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-bot.html>.
pub const TARGETED: &[(&str, &str, &str, &str)] = &[
    ("TGT_VolumetricIpTokenAbsent", "ip_token_absent", "targeted:aggregate:volumetric:ip:token_absent", "Challenge"),
    ("TGT_VolumetricSession", "session", "targeted:aggregate:volumetric:session:high", "Captcha"),
    ("TGT_SignalAutomatedBrowser", "automated_browser", "targeted:signal:automated_browser", "Captcha"),
    ("TGT_SignalBrowserInconsistency", "browser_inconsistency", "targeted:signal:browser_inconsistency", "Captcha"),
    ("TGT_TokenReuseIp", "token_reuse_ip", "targeted:aggregate:volumetric:session:token_reuse:ip", "Count"),
];

/// The window the targeted level counts a client's requests in, in seconds.
pub const TARGETED_WINDOW_SECS: u64 = 300;
/// Requests without an accepted token from one address, within the window, after which its
/// clients are challenged: AWS's "five requests without an accepted token label".
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens-block-missing-tokens.html>.
pub const TOKEN_ABSENT_REQUESTS: u32 = 5;
/// Requests of one client session (token) within the window that make its volume low, medium
/// and high (`…:volumetric:session:low|medium|high`); the rule acts on high. AWS does not publish
/// its thresholds: these are Rampart's, far above what a person clicking through a site sends.
pub const SESSION_VOLUME: [(u32, &str); 3] = [(2000, "high"), (1000, "medium"), (500, "low")];
/// Distinct addresses one token may be used from, within the window, before it is a token
/// reused (`TGT_TokenReuseIp`).
pub const TOKEN_REUSE_ADDRESSES: usize = 5;

/// The operator's list of data centres bots run from: the anonymous IP group's hosting
/// providers.
pub const DATA_CENTER_LIST: &str = "HostingProviderIPList";

/// The list that verifies a bot: the addresses it really comes from.
pub fn verification_list(bot: &Bot) -> String {
    format!("VerifiedBot_{}", bot.name)
}

/// Known bots: a case-insensitive pattern of the user agent, the name and the category. The
/// first that matches names the bot, so the specific come before the general.
const KNOWN: &[(&str, &str, &str)] = &[
    // Google's advertising crawlers say "Googlebot"-like things too: before Googlebot.
    (r"adsbot-google", "adsbot_google", "advertising"),
    (r"mediapartners-google", "mediapartners_google", "advertising"),
    (r"googleimageproxy", "google_image_proxy", "email_client"),
    (r"feedfetcher-google", "feedfetcher_google", "content_fetcher"),
    (r"googlebot", "googlebot", "search_engine"),
    (r"bingbot|bingpreview|msnbot", "bingbot", "search_engine"),
    (r"yahoo! slurp|\bslurp\b", "slurp", "search_engine"),
    (r"duckduckbot|duckduckgo-favicons-bot", "duckduckbot", "search_engine"),
    (r"baiduspider", "baiduspider", "search_engine"),
    (r"yandex(?:bot|images|mobilebot)", "yandexbot", "search_engine"),
    (r"applebot", "applebot", "search_engine"),
    (r"sogou (?:web )?spider", "sogou", "search_engine"),
    (r"seznambot", "seznambot", "search_engine"),
    (r"petalbot", "petalbot", "search_engine"),
    (r"qwantify|qwantbot", "qwantbot", "search_engine"),
    (r"naver(?:bot)?|\byeti/", "yeti", "search_engine"),
    (r"exabot", "exabot", "search_engine"),
    (r"ia_archiver|archive\.org_bot", "archive_org", "archiver"),
    (r"heritrix", "heritrix", "archiver"),
    (r"ccbot", "ccbot", "archiver"),
    (r"pocketparser|pocket/", "pocket_parser", "content_fetcher"),
    (r"feedly", "feedly", "content_fetcher"),
    (r"applenewsbot", "applenewsbot", "content_fetcher"),
    (r"yahoomailproxy", "yahoo_mail_proxy", "email_client"),
    (r"facebookexternalhit|facebookcatalog", "facebook", "social_media"),
    (r"twitterbot", "twitter", "social_media"),
    (r"linkedinbot", "linkedin", "social_media"),
    (r"pinterest(?:bot)?/", "pinterest", "social_media"),
    (r"slackbot|slack-imgproxy", "slack", "social_media"),
    (r"discordbot", "discord", "social_media"),
    (r"telegrambot", "telegram", "social_media"),
    (r"whatsapp/", "whatsapp", "social_media"),
    (r"redditbot", "reddit", "social_media"),
    (r"embedly", "embedly", "social_media"),
    (r"ahrefsbot|ahrefssiteaudit", "ahrefsbot", "seo"),
    (r"semrushbot|siteauditbot", "semrushbot", "seo"),
    (r"mj12bot", "mj12bot", "seo"),
    (r"dotbot", "dotbot", "seo"),
    (r"rogerbot", "rogerbot", "seo"),
    (r"screaming frog", "screaming_frog", "seo"),
    (r"blexbot", "blexbot", "seo"),
    (r"serpstatbot", "serpstatbot", "seo"),
    (r"dataforseobot", "dataforseobot", "seo"),
    (r"uptimerobot", "uptimerobot", "monitoring"),
    (r"pingdom", "pingdom", "monitoring"),
    (r"statuscake", "statuscake", "monitoring"),
    (r"site24x7", "site24x7", "monitoring"),
    (r"datadog(?:/synthetics| agent)", "datadog", "monitoring"),
    (r"newrelicpinger", "newrelic", "monitoring"),
    (r"betteruptime|better uptime bot", "better_uptime", "monitoring"),
    (r"w3c-checklink|linkchecker|xenu link sleuth|link-checker", "link_checker", "link_checker"),
    (r"censysinspect|expanse, a palo alto|detectify|qualys|internet-measurement|shadowserver", "scanner", "security"),
    (r"scrapy", "scrapy", "scraping_framework"),
    (r"\bcolly\b|gocolly", "colly", "scraping_framework"),
    (r"apache-nutch|\bnutch\b", "nutch", "scraping_framework"),
    (r"crawler4j|node-crawler|mechanicalsoup|mechanize|httrack", "scraper", "scraping_framework"),
    (r"^curl/", "curl", "http_library"),
    (r"^wget/", "wget", "http_library"),
    (r"python-requests|python-urllib|python-httpx|aiohttp|^python/", "python", "http_library"),
    (r"^go-http-client|^go \d", "go_http_client", "http_library"),
    (r"^okhttp|^java/|apache-httpclient|jersey/", "java", "http_library"),
    (r"^axios/|^node-fetch|^got \(|^undici|^node\b", "node", "http_library"),
    (r"libwww-perl|^lwp::|^perl/", "perl", "http_library"),
    (r"^ruby|faraday|^rest-client", "ruby", "http_library"),
    (r"guzzlehttp|^php/", "php", "http_library"),
    (r"^postmanruntime|^insomnia", "api_client", "http_library"),
    (r"^libcurl|^httpie|^powershell|windowspowershell", "cli", "http_library"),
    // Anything else that says it is a bot: a crawler's info URL, or a name ending in bot,
    // crawler or spider (but not a phone named Cubot).
    (r"\+https?://|\b(?:[a-z0-9_-]*bot|crawler|spider)\b", "unknown", "miscellaneous"),
];

/// Every bot name a label can give, once each, in the table's order.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for (_, name, _) in KNOWN {
        if !names.contains(name) {
            names.push(name);
        }
    }
    names
}

static PATTERNS: LazyLock<Option<regex::RegexSet>> =
    LazyLock::new(|| regex::RegexSetBuilder::new(KNOWN.iter().map(|(p, _, _)| *p)).case_insensitive(true).build().ok());

/// The bot a user agent names, if any.
pub fn classify(user_agent: &str) -> Option<Bot> {
    let set = PATTERNS.as_ref()?;
    let matched = set.matches(user_agent);
    let (_, name, category) = matched.iter().filter_map(|i| KNOWN.get(i)).find(|(_, name, _)| {
        // A phone model, not a bot.
        !(*name == "unknown" && user_agent.to_ascii_lowercase().contains("cubot"))
    })?;
    Some(Bot { name, category })
}

/// Whether a user agent is one an automated browser sends (headless Chrome, PhantomJS,
/// Selenium's and Puppeteer's markers).
pub fn automated_browser(user_agent: &str, client_hints: Option<&str>) -> bool {
    static AUTOMATED: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::RegexBuilder::new(r"headlesschrome|phantomjs|slimerjs|selenium|webdriver|puppeteer|playwright")
            .case_insensitive(true)
            .build()
            .ok()
    });
    let Some(re) = AUTOMATED.as_ref() else { return false };
    re.is_match(user_agent) || client_hints.is_some_and(|h| re.is_match(h))
}

/// Whether a user agent is not one a web browser sends: none at all, or one without a
/// browser's `Mozilla/5.0 (…)` and engine.
pub fn non_browser(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent.map(str::trim).filter(|u| !u.is_empty()) else { return true };
    let lower = ua.to_ascii_lowercase();
    let shaped = lower.starts_with("mozilla/5.0 (") || lower.starts_with("mozilla/4.0 (compatible; msie");
    let engine = ["applewebkit/", "gecko/", "trident/", "presto/", "msie "].iter().any(|e| lower.contains(e));
    !(shaped && engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_are_named_and_categorised_by_their_user_agent() {
        let cases = [
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "googlebot", "search_engine"),
            ("AdsBot-Google (+http://www.google.com/adsbot.html)", "adsbot_google", "advertising"),
            ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot", "search_engine"),
            ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "facebook", "social_media"),
            ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "ahrefsbot", "seo"),
            ("curl/8.5.0", "curl", "http_library"),
            ("python-requests/2.31.0", "python", "http_library"),
            ("Scrapy/2.11.0 (+https://scrapy.org)", "scrapy", "scraping_framework"),
            ("UptimeRobot/2.0", "uptimerobot", "monitoring"),
            ("ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)", "archive_org", "archiver"),
            ("Mozilla/5.0 (compatible; SomeNewBot/0.1; +https://example.com/bot)", "unknown", "miscellaneous"),
        ];
        for (ua, name, category) in cases {
            assert_eq!(classify(ua), Some(Bot { name, category }), "{ua}");
        }
        let browsers = [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ];
        for ua in browsers {
            assert_eq!(classify(ua), None, "{ua}");
            assert!(!non_browser(Some(ua)), "{ua}");
            assert!(!automated_browser(ua, None), "{ua}");
        }
    }

    #[test]
    fn signals_tell_automation_and_user_agents_no_browser_sends() {
        let headless =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0 Safari/537.36";
        assert!(automated_browser(headless, None));
        assert!(automated_browser(
            "Mozilla/5.0 (X11) AppleWebKit/537.36 Chrome/124.0",
            Some(r#""HeadlessChrome";v="124""#)
        ));
        assert!(non_browser(None));
        assert!(non_browser(Some("")));
        assert!(non_browser(Some("MyApp/1.0 (iOS 17)")));
        assert!(non_browser(Some("Mozilla/5.0 (compatible)")), "a browser's prefix without an engine");
    }
}
