//! What the proxies' web ACLs decided, kept for their owners: sampled requests (stored every
//! second, for GetSampledRequests), WAF log records (delivered as gzipped files to the logging
//! configuration's bucket, as AWS WAF delivers them, and appended to `waf_log_dir` when set), and
//! counters per rule and action (the admin endpoint's Prometheus metrics), and floods that rate-based
//! rules turn away at attack scale (Shield's attack records), and GuardDuty's detections of
//! sources probing paths or attacking again and again, and of those floods.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html>.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Db;
use rampart_waf::engine::Verdict;
use rampart_waf::engine::fields::Request;
use rampart_waf::visibility;
use tokio::sync::watch;

/// A rule metric's requests of the current minute.
#[derive(Default)]
struct Minute {
    minute: i64,
    population: u64,
    samples: Vec<shapes::SampledHTTPRequest>,
}

/// Requests decided by one rule, by action.
type ByAction = Vec<(&'static str, u64)>;

#[derive(Default)]
struct Pending {
    /// By web ACL ARN, then rule metric: the minutes not yet stored, the current one last.
    samples: HashMap<String, HashMap<String, Vec<Minute>>>,
    /// By web ACL ARN: the destination bucket and the records.
    logs: HashMap<String, (String, Vec<String>)>,
    /// Requests decided, by web ACL ARN, then rule metric, then action.
    counters: HashMap<String, HashMap<String, ByAction>>,
    /// The clients rate-based rules held, by web ACL ARN and rule: when each was last held.
    limited: HashMap<(String, String), HashMap<String, i64>>,
    /// What rate-based rules turned away, by load balancer ARN, for Shield's attack records.
    floods: HashMap<String, Flood>,
    /// By load balancer ARN and source: the requests the web ACL blocked and the paths that were
    /// missing or blocked, for GuardDuty's detections.
    web: HashMap<String, HashMap<std::net::IpAddr, rampart_guardduty::web::Seen>>,
    /// Bot Control's bots' requests, by web ACL ARN and minute, then (path, bot, category).
    bots: HashMap<(String, i64), HashMap<rampart_waf::bot_paths::Seen, u64>>,
    /// A xorshift state, for reservoir sampling.
    random: u64,
}

/// A load balancer's requests turned away by rate-based rules: per second over the last minute,
/// and what is not yet reported.
#[derive(Default)]
struct Flood {
    seconds: std::collections::VecDeque<(i64, u64)>,
    pending: rampart_shield::attacks::Report,
}

/// A Shield Standard defence of a proxy at work.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Defence {
    /// A connection refused over the total or per-source cap.
    ConnectionRefused,
    /// A client cut off for not sending its body in time.
    SlowBody,
    /// A client cut off for not sending its request's head (or finishing its TLS handshake) in
    /// time: slowloris.
    SlowHeaders,
}

/// At most this many sources and paths are told apart in one report; the rest are counted.
const DISTINCT: usize = 1000;

/// The proxies' decisions, collected.
#[derive(Default)]
pub(crate) struct Activity {
    pending: Mutex<Pending>,
    /// Every request each load balancer received, by ARN, since the last second's count: one
    /// counter per load balancer, shared with its proxies so that counting takes no lock.
    arrivals: Mutex<HashMap<String, Arc<std::sync::atomic::AtomicU64>>>,
}

/// One decided request, as the proxy saw it.
pub(crate) struct Observed<'a> {
    pub web_acl_arn: &'a str,
    pub balancer_arn: &'a str,
    pub logging: Option<&'a shapes::LoggingConfiguration>,
    pub request: &'a Request<'a>,
    pub verdict: &'a Verdict,
    /// The status the WAF answered with in the upstream's place.
    pub answered: Option<u16>,
}

impl Activity {
    /// The counter a load balancer's proxies count each request they receive on.
    pub(crate) fn arrivals(&self, balancer_arn: &str) -> Arc<std::sync::atomic::AtomicU64> {
        let mut all = self.arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.entry(balancer_arn.to_owned()).or_default().clone()
    }

    /// Each load balancer's requests since the last call. A load balancer no proxy serves any
    /// more is forgotten after its last count.
    fn take_arrivals(&self) -> Vec<(String, u64)> {
        let mut all = self.arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let counts =
            all.iter().map(|(arn, n)| (arn.clone(), n.swap(0, std::sync::atomic::Ordering::Relaxed))).collect();
        all.retain(|_, n| Arc::strong_count(n) > 1);
        counts
    }

    /// Counts a decision, samples it, and records its log line.
    pub(crate) fn observe(&self, o: &Observed<'_>) {
        let now = time::OffsetDateTime::now_utc();
        let line = o
            .logging
            .filter(|c| visibility::kept(c, o.verdict))
            .and_then(|c| Some((visibility::destination_bucket(c.log_destination_configs.first()?)?, c)))
            .map(|(bucket, c)| {
                (
                    bucket.to_owned(),
                    visibility::log_record(c, (o.web_acl_arn, o.balancer_arn), o.request, o.verdict, now),
                )
            });
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = &o.verdict.terminating;
        let counters = match p.counters.get_mut(o.web_acl_arn) {
            Some(c) => c,
            None => p.counters.entry(o.web_acl_arn.to_owned()).or_default(),
        };
        // Found without allocating, but for a rule's first request.
        let by_action = match counters.get_mut(t.metric.as_str()) {
            Some(c) => c,
            None => counters.entry(t.metric.clone()).or_default(),
        };
        match by_action.iter_mut().find(|(a, _)| *a == t.action) {
            Some((_, n)) => *n += 1,
            None => by_action.push((t.action, 1)),
        }
        // Each rule that counted the request counts it too.
        for (metric, _) in &o.verdict.counted_metrics {
            let by_action = match counters.get_mut(metric.as_str()) {
                Some(c) => c,
                None => counters.entry(metric.clone()).or_default(),
            };
            match by_action.iter_mut().find(|(a, _)| *a == "COUNT") {
                Some((_, n)) => *n += 1,
                None => by_action.push(("COUNT", 1)),
            }
        }
        // A bot's request, for the web ACL's bot traffic by path.
        if let Some((bot, category)) = rampart_waf::bot_paths::bot_of(&o.verdict.labels) {
            let seen = (String::from_utf8_lossy(o.request.path).into_owned(), bot.to_owned(), category.to_owned());
            let minute = p.bots.entry((o.web_acl_arn.to_owned(), now.unix_timestamp() / 60)).or_default();
            if minute.len() < rampart_waf::bot_paths::PAIRS_PER_MINUTE || minute.contains_key(&seen) {
                *minute.entry(seen).or_default() += 1;
            }
        }
        if t.rate_based && t.action != "ALLOW" {
            // A group's rate-based rule holds its clients under the group's rule and its own.
            let rule = match &t.group {
                Some((_, inner)) => visibility::group_rule(&t.rule_id, inner),
                None => t.rule_id.clone(),
            };
            let held = p.limited.entry((o.web_acl_arn.to_owned(), rule)).or_default();
            held.insert(o.request.client_ip.to_string(), now.unix_timestamp());
            let flood = p.floods.entry(o.balancer_arn.to_owned()).or_default();
            let second = now.unix_timestamp();
            match flood.seconds.back_mut() {
                Some((s, n)) if *s == second => *n += 1,
                _ => flood.seconds.push_back((second, 1)),
            }
            let r = &mut flood.pending;
            r.requests += 1;
            let (ip, path) = (o.request.client_ip.to_string(), String::from_utf8_lossy(o.request.path).into_owned());
            if r.sources.len() < DISTINCT || r.sources.contains_key(&ip) {
                *r.sources.entry(ip).or_default() += 1;
            }
            if r.urls.len() < DISTINCT || r.urls.contains_key(&path) {
                *r.urls.entry(path).or_default() += 1;
            }
            if !r.rules.contains(&t.rule_id) {
                r.rules.push(t.rule_id.clone());
            }
        }
        // A block by a rule that judges the request (a flood's is Shield's to report).
        if t.action == "BLOCK" && t.rule_type != "RATE_BASED" {
            let seen = web_seen(&mut p.web, o.balancer_arn, o.request.client_ip);
            if let Some(seen) = seen {
                seen.blocked_by(&t.rule_id);
                seen.path(o.request.path);
            }
        }
        if let Some((bucket, line)) = line {
            let entry = p.logs.entry(o.web_acl_arn.to_owned()).or_insert_with(|| (bucket.clone(), Vec::new()));
            entry.0 = bucket;
            entry.1.push(line);
        }
        if t.sampled {
            let action = t.action;
            keep_sample(&mut p, (o.web_acl_arn, &t.metric), now, || {
                visibility::sample(o.request, o.verdict, (o.answered, action), now)
            });
        }
        // Each rule that counted the request samples it too, as Count.
        for (metric, _) in o.verdict.counted_metrics.iter().filter(|(_, sampled)| *sampled) {
            keep_sample(&mut p, (o.web_acl_arn, metric), now, || {
                visibility::sample(o.request, o.verdict, (o.answered, "COUNT"), now)
            });
        }
    }

    /// Notes a path the upstream did not have (404) for a source: probing, if it keeps on.
    pub(crate) fn missed(&self, balancer_arn: &str, source: std::net::IpAddr, path: &[u8]) {
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(seen) = web_seen(&mut p.web, balancer_arn, source) {
            seen.path(path);
        }
    }

    /// What each source did at each load balancer since the last call.
    fn take_web(&self) -> Vec<(String, std::net::IpAddr, rampart_guardduty::web::Seen)> {
        let web = std::mem::take(&mut self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).web);
        web.into_iter()
            .flat_map(|(arn, by_source)| by_source.into_iter().map(move |(ip, s)| (arn.clone(), ip, s)))
            .collect()
    }

    /// The counters in Prometheus's text format.
    pub(crate) fn metrics(&self) -> String {
        let p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::from(
            "# HELP rampart_waf_requests_total Requests a web ACL decided, by the rule (metric name) that decided them and the action.\n# TYPE rampart_waf_requests_total counter\n",
        );
        let mut rows: Vec<(&String, &String, &'static str, u64)> = p
            .counters
            .iter()
            .flat_map(|(acl, c)| {
                c.iter().flat_map(move |(m, actions)| actions.iter().map(move |(a, n)| (acl, m, *a, *n)))
            })
            .collect();
        rows.sort();
        for (acl, metric, action, n) in rows {
            let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str(&format!(
                "rampart_waf_requests_total{{web_acl=\"{}\",rule=\"{}\",action=\"{}\"}} {n}\n",
                escape(acl),
                escape(metric),
                action.to_ascii_lowercase()
            ));
        }
        out
    }

    fn take_samples(&self) -> Vec<(String, String, Minute)> {
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (acl, by_metric) in std::mem::take(&mut p.samples) {
            for (metric, minutes) in by_metric {
                out.extend(minutes.into_iter().map(|m| (acl.clone(), metric.clone(), m)));
            }
        }
        out
    }

    fn take_bots(&self) -> HashMap<(String, i64), HashMap<rampart_waf::bot_paths::Seen, u64>> {
        std::mem::take(&mut self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).bots)
    }

    fn take_limited(&self) -> HashMap<(String, String), HashMap<String, i64>> {
        std::mem::take(&mut self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).limited)
    }

    /// Counts a defence at work on a load balancer, toward Shield's attack records.
    pub(crate) fn defended(&self, balancer_arn: &str, defence: Defence, source: std::net::IpAddr) {
        let second = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let flood = match p.floods.get_mut(balancer_arn) {
            Some(f) => f,
            None => p.floods.entry(balancer_arn.to_owned()).or_default(),
        };
        match flood.seconds.back_mut() {
            Some((s, n)) if *s == second => *n += 1,
            _ => flood.seconds.push_back((second, 1)),
        }
        let r = &mut flood.pending;
        match defence {
            Defence::ConnectionRefused => r.connections_refused += 1,
            Defence::SlowBody | Defence::SlowHeaders => r.slow_bodies += 1,
        }
        let ip = source.to_string();
        if r.sources.len() < DISTINCT || r.sources.contains_key(&ip) {
            *r.sources.entry(ip).or_default() += 1;
        }
    }

    /// The floods at attack scale: for each load balancer whose rate-based rules and defences
    /// turned away at least `threshold` requests or connections in the last minute, what was not
    /// yet reported.
    fn take_floods(&self, threshold: u64, now: i64) -> Vec<rampart_shield::attacks::Report> {
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        p.floods.retain(|arn, flood| {
            while flood.seconds.front().is_some_and(|(s, _)| now - *s >= 60) {
                flood.seconds.pop_front();
            }
            let minute: u64 = flood.seconds.iter().map(|(_, n)| *n).sum();
            let mut pending = std::mem::take(&mut flood.pending);
            let events = pending.requests + pending.connections_refused + pending.slow_bodies;
            if minute >= threshold && events > 0 {
                pending.resource_arn.clone_from(arn);
                out.push(pending);
            }
            !flood.seconds.is_empty()
        });
        out
    }

    fn take_logs(&self) -> HashMap<String, (String, Vec<String>)> {
        std::mem::take(&mut self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).logs)
    }
}

/// Offers a request to a rule metric's sample of the current minute: each request of the minute
/// is equally likely to be kept (reservoir sampling), and made only if it is.
fn keep_sample(
    p: &mut Pending,
    (web_acl_arn, metric): (&str, &str),
    now: time::OffsetDateTime,
    make: impl FnOnce() -> shapes::SampledHTTPRequest,
) {
    p.random ^= p.random << 13;
    p.random ^= p.random >> 7;
    p.random ^= p.random << 17;
    let random = if p.random == 0 { 0x9E37_79B9_7F4A_7C15 } else { p.random };
    p.random = random;
    let minute = now.unix_timestamp().div_euclid(60);
    let by_metric = match p.samples.get_mut(web_acl_arn) {
        Some(m) => m,
        None => p.samples.entry(web_acl_arn.to_owned()).or_default(),
    };
    let minutes = match by_metric.get_mut(metric) {
        Some(m) => m,
        None => by_metric.entry(metric.to_owned()).or_default(),
    };
    if minutes.last().is_none_or(|m| m.minute != minute) {
        minutes.push(Minute { minute, population: 0, samples: Vec::new() });
    }
    let Some(m) = minutes.last_mut() else { return };
    m.population += 1;
    if m.samples.len() < visibility::SAMPLES_PER_MINUTE {
        m.samples.push(make());
    } else if let Ok(at) = usize::try_from(random % m.population)
        && let Some(slot) = m.samples.get_mut(at)
    {
        *slot = make();
    }
}

/// A source's tally at a load balancer, made on its first request (up to [`DISTINCT`] sources
/// a load balancer between reports; the rest are not told apart).
fn web_seen<'a>(
    web: &'a mut HashMap<String, HashMap<std::net::IpAddr, rampart_guardduty::web::Seen>>,
    balancer_arn: &str,
    source: std::net::IpAddr,
) -> Option<&'a mut rampart_guardduty::web::Seen> {
    if !web.contains_key(balancer_arn) {
        web.insert(balancer_arn.to_owned(), HashMap::new());
    }
    let by_source = web.get_mut(balancer_arn)?;
    if by_source.len() >= DISTINCT && !by_source.contains_key(&source) {
        return None;
    }
    Some(by_source.entry(source).or_default())
}

/// Stores samples every second and delivers logs every `log_every`, until `stop` flips (then
/// once more, so nothing collected is lost).
pub(crate) async fn keep(
    activity: Arc<Activity>,
    db: Db,
    sealer: Arc<rampart_store::Sealer>,
    (log_every, log_dir): (std::time::Duration, Option<PathBuf>),
    (attack_threshold, attack_quiet_secs, surge): (u64, u64, rampart_shield::surge::Limits),
    tuning: rampart_guardduty::detect::Tuning,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut last_logs = std::time::Instant::now();
    let mut last_sweep = std::time::Instant::now();
    // Each load balancer's request rate against its baseline: surges are attacks too.
    let mut surges: HashMap<String, rampart_shield::surge::Detector> = HashMap::new();
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        for (acl, metric, m) in activity.take_samples() {
            let result = db
                .transact(move |tx| visibility::record_samples(tx, (&acl, &metric, m.minute), m.population, m.samples))
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot store sampled requests");
            }
        }
        for ((acl, minute), seen) in activity.take_bots() {
            let result = db.transact(move |tx| rampart_waf::bot_paths::record(tx, (&acl, minute), seen)).await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot store the bots' requests by path");
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for ((acl, rule), held) in activity.take_limited() {
            let clients: Vec<(String, i64)> = held.into_iter().collect();
            if let Err(e) = db.transact(move |tx| visibility::record_limited(tx, (&acl, &rule), clients, now)).await {
                tracing::warn!(error = %e, "cannot store the clients rate-based rules hold");
            }
        }
        // Shield's attack records: floods at attack scale reported, quiet attacks ended.
        let at = time::OffsetDateTime::now_utc();
        let quiet = i64::try_from(attack_quiet_secs).unwrap_or(60);
        // GuardDuty's detections from the same decisions: probing, repeated attacks, floods. The
        // sources' windows are the store's, which every node adds its proxies' reports to.
        let tallies = activity.take_web();
        let mut detections = if tallies.is_empty() {
            Vec::new()
        } else {
            db.transact(move |tx| rampart_guardduty::engine::observe_web(tx, tallies, now, &tuning))
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot add the proxies' reports to GuardDuty's windows");
                    Vec::new()
                })
        };
        if last_sweep.elapsed() >= std::time::Duration::from_secs(60) {
            last_sweep = std::time::Instant::now();
            if let Err(e) = db.transact(move |tx| rampart_guardduty::engine::sweep_web(tx, now, &tuning)).await {
                tracing::warn!(error = %e, "cannot sweep GuardDuty's windows that are over");
            }
        }
        let mut reports = activity.take_floods(attack_threshold.max(1), now);
        let arrivals = activity.take_arrivals();
        surges.retain(|arn, _| arrivals.iter().any(|(a, _)| a == arn));
        for (arn, arrived) in arrivals {
            if let Some(s) = surges.entry(arn.clone()).or_default().second(surge, arrived) {
                reports.push(rampart_shield::attacks::Report {
                    resource_arn: arn,
                    surge: s.requests,
                    surge_rate: s.per_second,
                    ..Default::default()
                });
            }
        }
        for report in reports {
            if report.requests > 0 {
                let sources: Vec<(String, u64)> = report.sources.iter().map(|(ip, n)| (ip.clone(), *n)).collect();
                detections.extend(rampart_guardduty::web::attack(&report.resource_arn, report.requests, &sources, now));
            }
            if let Err(e) = db.transact(move |tx| rampart_shield::attacks::report(tx, report, at)).await {
                tracing::warn!(error = %e, "cannot record an attack");
            }
        }
        if !detections.is_empty()
            && let Err(e) =
                db.transact(move |tx| rampart_guardduty::engine::record_detections(tx, &detections, at)).await
        {
            tracing::warn!(error = %e, "cannot record GuardDuty's findings of the proxies' traffic");
        }
        if rampart_shield::attacks::any_ongoing(&db).unwrap_or(false)
            && let Err(e) = db.transact(move |tx| rampart_shield::attacks::sweep(tx, at, quiet)).await
        {
            tracing::warn!(error = %e, "cannot end the attacks that are over");
        }
        if stopping || last_logs.elapsed() >= log_every {
            last_logs = std::time::Instant::now();
            for (acl, (bucket, lines)) in activity.take_logs() {
                deliver(&db, &sealer, &acl, &bucket, &lines, log_dir.as_deref()).await;
            }
        }
        if stopping {
            return;
        }
    }
}

/// Delivers a web ACL's log records: a gzipped file in its bucket (when the bucket is the web
/// ACL's account's), and lines appended to `<log_dir>/<web-acl-name>.log`.
async fn deliver(
    db: &Db,
    sealer: &Arc<rampart_store::Sealer>,
    acl: &str,
    bucket: &str,
    lines: &[String],
    log_dir: Option<&std::path::Path>,
) {
    let mut text = lines.join("\n");
    text.push('\n');
    if let Some(dir) = log_dir {
        let name = acl.rsplit('/').nth(1).unwrap_or("web-acl");
        let path = dir.join(format!("{name}.log"));
        let appended = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(&path))
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = appended {
            tracing::warn!(path = %path.display(), error = %e, "cannot append WAF log records");
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let Ok(body) = gz.write_all(text.as_bytes()).and_then(|()| gz.finish()) else { return };
    let now = time::OffsetDateTime::now_utc();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body);
    let hash = data_encoding::HEXLOWER.encode(digest.as_ref().get(..4).unwrap_or_default());
    let key = visibility::log_file_key(acl, now, &hash);
    let account = acl.split(':').nth(4).unwrap_or_default().to_owned();
    let (bucket, sealer) = (bucket.to_owned(), sealer.clone());
    let delivered = db
        .transact(move |tx| {
            // AWS WAF delivers to a bucket its owner's account holds; anything else is dropped.
            if rampart_s3::bucket_owner_tx(tx, &bucket)?.as_deref() != Some(account.as_str()) {
                return Ok(false);
            }
            let metadata = std::collections::BTreeMap::new();
            rampart_s3::deliver_object(
                tx,
                &sealer,
                (&bucket, &key),
                (&body, "application/x-gzip", metadata),
                None,
                now,
            )?;
            Ok::<_, rampart_core::ServiceError>(true)
        })
        .await;
    match delivered {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(web_acl = %acl, "the WAF log bucket does not exist or is another account's: records dropped")
        }
        Err(e) => tracing::warn!(web_acl = %acl, error = %e, "cannot deliver WAF log records"),
    }
}

/// Shares this node's rate-based rules' counts with the cluster's other nodes, and takes in
/// theirs, every second until `stop` flips (see [`rampart_waf::shared_rates`]). Only a store that
/// nodes share has other nodes to share with.
pub(crate) async fn share_rates(compiled: Arc<rampart_waf::Compiled>, db: Db, mut stop: watch::Receiver<bool>) {
    let node = crate::ids::uuid();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let records = rampart_waf::shared_rates::publish(&compiled, &node, now);
        if !records.is_empty()
            && let Err(e) = db.put_later(records)
        {
            tracing::warn!(error = %e, "cannot share the rate-based rules' counts");
        }
        let (c, d, n) = (compiled.clone(), db.clone(), node.clone());
        let stale = match tokio::task::spawn_blocking(move || rampart_waf::shared_rates::take_in(&c, &d, &n, now)).await
        {
            Ok(Ok(stale)) => stale,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the other nodes' rate-based counts");
                continue;
            }
            Err(_) => continue,
        };
        if !stale.is_empty()
            && let Err(e) = db.transact(move |tx| stale.iter().try_for_each(|k| tx.delete(k).map(drop))).await
        {
            tracing::warn!(error = %e, "cannot drop rate-based counts no node keeps");
        }
    }
}
