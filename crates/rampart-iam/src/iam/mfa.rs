//! Virtual MFA devices: a 160-bit TOTP seed (RFC 6238: HMAC-SHA-1, six digits, 30-second steps)
//! sealed at rest, shown once as Base32 and as a QR code, and assigned to a user by two
//! consecutive codes. A code's time step is accepted once per device: no replays.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_virtual.html>.

use rampart_shapes::Blob;
use rampart_shapes::generated::iam as shapes;
use rampart_store::{Sealer, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{merge_tags, no_such_user, read_user, read_user_tx, remove_tags, tag_shapes};
use rampart_core::records;
use rampart_core::{Ctx, PrincipalKind, ServiceError, TxCtx};

/// MFA devices one user may have assigned.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const MFA_DEVICES_PER_USER: usize = 8;
/// Seconds in a TOTP time step.
const STEP: u64 = 30;
/// Steps back a pair of codes may start at when enabling (the second code comes a step later).
const ENABLE_WINDOW: u64 = 4;
/// Steps either side of now a pair may come from when resynchronizing a drifted device.
const RESYNC_WINDOW: u64 = 20;

/// Where a device is kept: a device is its path and its name (names compare without case), so
/// two devices may share a name at different paths, as AWS's "MFADevice entity at the same path
/// and name already exists" says. Stores made before paths counted kept every device at the root
/// path's key; [`read_tx`] and [`read_cached_device`] still find those, and writes move them.
fn key(account: &str, path: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/mfa{path}{}", name.to_ascii_lowercase()).into_bytes()
}

fn prefix(account: &str) -> Vec<u8> {
    format!("iam/{account}/mfa/").into_bytes()
}

/// Every virtual MFA device of the account (for the account summary).
pub(super) fn all_devices(db: &rampart_store::Db, account: &str) -> Result<Vec<MfaDeviceRecord>, ServiceError> {
    all(db, account)
}

/// What the seed's sealing is bound to: this device and nothing else.
fn seal_context(serial: &str) -> Vec<u8> {
    format!("rampart/iam/mfa-seed/v1/{serial}").into_bytes()
}

/// Who a device is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Holder {
    Root,
    User { name: String },
}

/// A virtual MFA device, as stored. The seed is sealed with the master key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaDeviceRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub path: String,
    /// Base64 of the sealed 20-byte seed.
    pub sealed_seed: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub holder: Option<Holder>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub enabled: Option<OffsetDateTime>,
    /// The last time step a code was accepted for; only later steps are accepted.
    pub last_step: u64,
    pub tags: Vec<(String, String)>,
}

super::listed!(MfaDeviceRecord);

impl MfaDeviceRecord {
    /// The serial number: the device's ARN.
    pub fn serial(&self) -> String {
        format!("arn:aws:iam::{}:mfa{}{}", self.account_id, self.path, self.name)
    }

    fn seed(&self, sealer: &Sealer) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let sealed = data_encoding::BASE64.decode(self.sealed_seed.as_bytes()).map_err(|_| ServiceError::internal())?;
        sealer.open(&sealed, &seal_context(&self.serial())).map_err(|_| ServiceError::internal())
    }

    /// Checks two consecutive codes whose first step lies in `window`; the second code's step.
    fn check_pair(
        &self,
        sealer: &Sealer,
        code1: &str,
        code2: &str,
        window: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, ServiceError> {
        let seed = self.seed(sealer)?;
        Ok(window
            .filter(|s| *s > self.last_step)
            .find(|s| matches(&seed, *s, code1) && matches(&seed, s + 1, code2))
            .map(|s| s + 1))
    }
}

/// The RFC 4226 HOTP value of `seed` at `counter`, six digits (RFC 6238 TOTP uses the time step as
/// the counter). HMAC-SHA-1 comes from aws-lc-rs, the server's one crypto provider, rather than a
/// TOTP crate that would bring a second HMAC and SHA-1 implementation.
fn hotp(seed: &[u8], counter: u64) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed);
    let tag = aws_lc_rs::hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // Dynamic truncation (RFC 4226 section 5.3): four bytes at the offset the last nibble gives.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac.get(offset..offset + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map_or(0, u32::from_be_bytes);
    format!("{:06}", (word & 0x7fff_ffff) % 1_000_000)
}

/// Whether `code` is the device's code for `step`, compared in constant time.
fn matches(seed: &[u8], step: u64, code: &str) -> bool {
    let expected = Zeroizing::new(hotp(seed, step));
    aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), code.as_bytes()).is_ok()
}

/// Steps either side of now a single code may come from (clock skew and typing time).
const SKEW: u64 = 1;

/// Checks one code from the caller's own device (for STS, sign-in and S3's MFA Delete) and
/// spends its step. Failures are AccessDenied, as STS words them, and say nothing about whether
/// the device exists.
pub fn accept_mfa_code(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, serial: &str, code: &str) -> Result<(), ServiceError> {
    let failed =
        || ServiceError::access_denied("MultiFactorAuthentication failed with invalid MFA one time pass code. ");
    let p = ctx.principal;
    let holder = match (p.kind, &p.user_name) {
        (PrincipalKind::Root, _) => Holder::Root,
        (_, Some(name)) => Holder::User { name: name.clone() },
        _ => return Err(failed()),
    };
    let Ok(mut d) = device_tx(tx, &p.account_id, serial) else { return Err(failed()) };
    if d.holder.as_ref() != Some(&holder) {
        return Err(failed());
    }
    let seed = d.seed(ctx.sealer)?;
    let now = step_now(ctx.now);
    let step = (now.saturating_sub(SKEW)..=now + SKEW)
        .filter(|s| *s > d.last_step)
        .find(|s| matches(&seed, *s, code))
        .ok_or_else(failed)?;
    d.last_step = step;
    write(tx, &d)
}

/// The current TOTP time step.
fn step_now(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0) / STEP
}

/// The six-digit code of `seed` for the step containing `unix_seconds`: for tests and tools that
/// play the device.
pub fn code_for(seed: &[u8], unix_seconds: u64) -> String {
    hotp(seed, unix_seconds / STEP)
}

fn invalid_code() -> ServiceError {
    ServiceError::new("InvalidAuthenticationCode", 403, "Authentication code for device is not valid.")
}

fn no_such_device(serial: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("VirtualMFADevice with serial number {serial} doesn't exist."))
}

/// The device a serial number names in this account.
fn device_tx(tx: &Tx<'_>, account: &str, serial: &str) -> Result<MfaDeviceRecord, ServiceError> {
    by_serial(&records::tx_reader(tx), account, serial)?.ok_or_else(|| no_such_device(serial))
}

/// The device at a path and name (names compare without case), wherever the store keeps it.
fn at_path(
    get: &records::Reader<'_>,
    account: &str,
    path: &str,
    name: &str,
) -> Result<Option<MfaDeviceRecord>, ServiceError> {
    let at = |p: &str| records::read_with::<MfaDeviceRecord>(get, &key(account, p, name));
    let found = at(path)?.filter(|d| d.path == path);
    if found.is_some() || path == "/" {
        return Ok(found);
    }
    Ok(at("/")?.filter(|d| d.path == path))
}

/// The device a serial number names exactly.
fn by_serial(get: &records::Reader<'_>, account: &str, serial: &str) -> Result<Option<MfaDeviceRecord>, ServiceError> {
    let Some((path, name)) = path_and_name(account, serial) else { return Ok(None) };
    Ok(at_path(get, account, path, name)?.filter(|d| d.serial() == serial))
}

/// The path and name of a serial number of this account (`arn:aws:iam::ACCOUNT:mfa/PATH/NAME`).
fn path_and_name<'s>(account: &str, serial: &'s str) -> Option<(&'s str, &'s str)> {
    let rest = serial.strip_prefix("arn:aws:iam::")?.strip_prefix(account)?.strip_prefix(":mfa")?;
    let cut = rest.rfind('/')?;
    Some((rest.get(..=cut)?, rest.get(cut + 1..)?))
}

/// Reads a device by serial number through the store's cache (for authorization: its path and
/// tags).
pub fn read_mfa_device(
    db: &rampart_store::Db,
    account: &str,
    serial: &str,
) -> Result<Option<MfaDeviceRecord>, ServiceError> {
    by_serial(&records::cached_reader(db), account, serial)
}

/// Writes a device at its key; one an older store kept at the root path's key moves.
fn write(tx: &mut Tx<'_>, d: &MfaDeviceRecord) -> Result<(), ServiceError> {
    if d.path != "/" {
        forget_legacy(tx, d)?;
    }
    records::write_tx(tx, &key(&d.account_id, &d.path, &d.name), d)
}

fn delete(tx: &mut Tx<'_>, d: &MfaDeviceRecord) -> Result<(), ServiceError> {
    forget_legacy(tx, d)?;
    tx.delete(&key(&d.account_id, &d.path, &d.name))?;
    Ok(())
}

/// Removes the root path's key when it holds `d` from an older store (not another device).
fn forget_legacy(tx: &mut Tx<'_>, d: &MfaDeviceRecord) -> Result<(), ServiceError> {
    let legacy = key(&d.account_id, "/", &d.name);
    if d.path != "/" && records::read_tx::<MfaDeviceRecord>(tx, &legacy)?.is_some_and(|l| l.path == d.path) {
        tx.delete(&legacy)?;
    }
    Ok(())
}

fn all(db: &rampart_store::Db, account: &str) -> Result<Vec<MfaDeviceRecord>, ServiceError> {
    records::scan_records(db, &prefix(account))
}

fn all_tx(tx: &Tx<'_>, account: &str) -> Result<Vec<MfaDeviceRecord>, ServiceError> {
    Ok(tx
        .scan_prefix(&prefix(account), None, usize::MAX >> 1, false)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice::<MfaDeviceRecord>(&v).ok())
        .collect())
}

/// The enabled device of a user (or of root, `user` `None`), if it has one.
pub fn enabled_device(
    db: &rampart_store::Db,
    account: &str,
    user: Option<&str>,
) -> Result<Option<MfaDeviceRecord>, ServiceError> {
    let holder = match user {
        Some(name) => Holder::User { name: name.to_owned() },
        None => Holder::Root,
    };
    Ok(all(db, account)?.into_iter().find(|d| d.enabled.is_some() && d.holder.as_ref() == Some(&holder)))
}

/// Whether a user (or root, `user` `None`) has an MFA device enabled, inside a transaction.
pub(super) fn mfa_active_tx(tx: &Tx<'_>, account: &str, user: Option<&str>) -> Result<bool, ServiceError> {
    let holder = match user {
        Some(name) => Holder::User { name: name.to_owned() },
        None => Holder::Root,
    };
    Ok(all_tx(tx, account)?.iter().any(|d| d.enabled.is_some() && d.holder.as_ref() == Some(&holder)))
}

/// The devices assigned to a user, inside a transaction (for DeleteUser and renames).
pub(crate) fn user_devices_tx(tx: &Tx<'_>, account: &str, user: &str) -> Result<Vec<MfaDeviceRecord>, ServiceError> {
    let holder = Holder::User { name: user.to_owned() };
    Ok(all_tx(tx, account)?.into_iter().filter(|d| d.holder.as_ref() == Some(&holder)).collect())
}

/// Moves a renamed user's devices to the new name.
pub(crate) fn rename_holder(tx: &mut Tx<'_>, account: &str, old: &str, new: &str) -> Result<(), ServiceError> {
    for mut d in user_devices_tx(tx, account, old)? {
        d.holder = Some(Holder::User { name: new.to_owned() });
        write(tx, &d)?;
    }
    Ok(())
}

/// A QR code of `text` as a grayscale PNG: four pixels a module, a four-module quiet zone.
fn qr_png(text: &str) -> Result<Vec<u8>, ServiceError> {
    const SCALE: usize = 4;
    const QUIET: usize = 4;
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|_| ServiceError::internal())?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % width + QUIET, i / width + QUIET);
            for dy in 0..SCALE {
                let row = (my * SCALE + dy) * side;
                if let Some(run) = pixels.get_mut(row + mx * SCALE..row + (mx + 1) * SCALE) {
                    run.fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    let side32 = u32::try_from(side).map_err(|_| ServiceError::internal())?;
    let mut enc = png::Encoder::new(&mut out, side32, side32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|_| ServiceError::internal())?;
    w.write_image_data(&pixels).map_err(|_| ServiceError::internal())?;
    w.finish().map_err(|_| ServiceError::internal())?;
    Ok(out)
}

pub fn create_virtual_mfa_device(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateVirtualMFADeviceRequest,
) -> Result<shapes::CreateVirtualMFADeviceResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let path = input.path.clone().unwrap_or_else(|| "/".to_owned());
    if at_path(&records::tx_reader(tx), account, &path, &input.virtual_mfa_device_name)?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("MFADevice entity at the same path and name already exists: {}", input.virtual_mfa_device_name),
        ));
    }
    // An older store's device of this name at another path still sits at the root path's key:
    // move it to its own before this one takes that key.
    if path == "/"
        && let Some(other) =
            records::read_tx::<MfaDeviceRecord>(tx, &key(account, "/", &input.virtual_mfa_device_name))?
    {
        write(tx, &other)?;
    }
    let mut seed = Zeroizing::new([0u8; 20]);
    aws_lc_rs::rand::fill(&mut seed[..]).map_err(|_| ServiceError::internal())?;
    let mut d = MfaDeviceRecord {
        v: 1,
        account_id: account.clone(),
        name: input.virtual_mfa_device_name,
        path,
        sealed_seed: String::new(),
        created: ctx.now,
        holder: None,
        enabled: None,
        last_step: 0,
        tags: Vec::new(),
    };
    merge_tags(&mut d.tags, input.tags.unwrap_or_default())?;
    let sealed = ctx.sealer.seal(&seed[..], &seal_context(&d.serial())).map_err(|_| ServiceError::internal())?;
    d.sealed_seed = data_encoding::BASE64.encode(&sealed);
    write(tx, &d)?;
    let base32 = Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&seed[..]));
    // The account alias names the issuer in authenticator apps, as AWS's "Amazon Web Services"
    // does; without one, "Rampart".
    let alias = tx.get(&rampart_core::keys::account_alias(account))?.and_then(|a| String::from_utf8(a).ok());
    let uri = Zeroizing::new(otpauth_uri(alias.as_deref().unwrap_or("Rampart"), &d.name, account, &base32));
    Ok(shapes::CreateVirtualMFADeviceResponse {
        virtual_mfa_device: shapes::VirtualMFADevice {
            serial_number: d.serial(),
            base32_string_seed: Some(Blob(base32.as_bytes().to_vec())),
            qr_code_png: Some(Blob(qr_png(&uri)?)),
            user: None,
            enable_date: None,
            tags: (!d.tags.is_empty()).then(|| tag_shapes(&d.tags)),
        },
    })
}

/// The URI authenticator apps read from the QR code, in the Key URI format (the form IAM's
/// QRCodePNG carries): the issuer both before the label and as the `issuer` parameter, so that
/// apps old and new show it.
/// See <https://github.com/google/google-authenticator/wiki/Key-Uri-Format>.
fn otpauth_uri(issuer: &str, device: &str, account: &str, secret_base32: &str) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={secret_base32}&issuer={}",
        enc(issuer),
        enc(&format!("{device}@{account}")),
        enc(issuer)
    )
}

pub fn enable_mfa_device(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::EnableMFADeviceRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let user = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    let codes = (input.authentication_code1.as_str(), input.authentication_code2.as_str());
    assign(tx, ctx.sealer, ctx.now, account, &input.serial_number, codes, Holder::User { name: user.name })
}

/// Enables a virtual device for the root user. AWS offers this only in the console, to the
/// signed-in root user; Rampart's sign-in endpoint does the same (`enableMfa` at root sign-in).
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-virt-mfa-for-root.html>.
pub fn enable_root_mfa_device(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    now: OffsetDateTime,
    account: &str,
    serial: &str,
    codes: (&str, &str),
) -> Result<(), ServiceError> {
    assign(tx, sealer, now, account, serial, codes, Holder::Root)
}

/// Assigns an unassigned device to `holder` once two consecutive codes prove it is in hand.
fn assign(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    now: OffsetDateTime,
    account: &str,
    serial: &str,
    (code1, code2): (&str, &str),
    holder: Holder,
) -> Result<(), ServiceError> {
    let mut d = device_tx(tx, account, serial)?;
    if d.holder.is_some() {
        return Err(ServiceError::new("EntityAlreadyExists", 409, "MFA Device is already in use."));
    }
    let held = all_tx(tx, account)?.into_iter().filter(|d| d.holder.as_ref() == Some(&holder)).count();
    if held >= MFA_DEVICES_PER_USER {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for MFADevicesPerUser: {MFA_DEVICES_PER_USER}"),
        ));
    }
    let step_now = step_now(now);
    let window = step_now.saturating_sub(ENABLE_WINDOW)..=step_now;
    let step = d.check_pair(sealer, code1, code2, window)?.ok_or_else(invalid_code)?;
    d.holder = Some(holder);
    d.enabled = Some(now);
    d.last_step = step;
    write(tx, &d)
}

pub fn resync_mfa_device(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ResyncMFADeviceRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let user = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    let mut d = device_tx(tx, account, &input.serial_number)?;
    if d.holder != Some(Holder::User { name: user.name }) {
        return Err(no_such_device(&input.serial_number));
    }
    let now = step_now(ctx.now);
    let window = now.saturating_sub(RESYNC_WINDOW)..=now + RESYNC_WINDOW;
    let step = d
        .check_pair(ctx.sealer, &input.authentication_code1, &input.authentication_code2, window)?
        .ok_or_else(invalid_code)?;
    d.last_step = step;
    write(tx, &d)
}

pub fn deactivate_mfa_device(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeactivateMFADeviceRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let holder = match (&input.user_name, ctx.principal.kind) {
        (Some(name), _) => {
            let user = read_user_tx(tx, account, name)?.ok_or_else(|| no_such_user(name))?;
            Holder::User { name: user.name }
        }
        (None, PrincipalKind::Root) => Holder::Root,
        (None, _) => match &ctx.principal.user_name {
            Some(me) => Holder::User { name: me.clone() },
            None => return Err(no_such_device(&input.serial_number)),
        },
    };
    let mut d = device_tx(tx, account, &input.serial_number)?;
    if d.holder.as_ref() != Some(&holder) {
        return Err(no_such_device(&input.serial_number));
    }
    d.holder = None;
    d.enabled = None;
    write(tx, &d)
}

pub fn delete_virtual_mfa_device(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteVirtualMFADeviceRequest,
) -> Result<(), ServiceError> {
    let d = device_tx(tx, &ctx.principal.account_id, &input.serial_number)?;
    if d.holder.is_some() {
        return Err(ServiceError::new("DeleteConflict", 409, "MFA Device is still in use."));
    }
    delete(tx, &d)
}

/// Whose devices an operation is about: the named user's, else the caller's (root's own, or the
/// calling user's), with the name AWS shows for the holder.
fn holder_of(ctx: &Ctx<'_>, user_name: Option<&str>) -> Result<(Holder, String), ServiceError> {
    let account = &ctx.principal.account_id;
    Ok(match super::target_holder(ctx.principal, user_name)? {
        Some(name) => {
            let user = read_user(ctx.db, account, &name)?.ok_or_else(|| no_such_user(&name))?;
            (Holder::User { name: user.name.clone() }, user.name.clone())
        }
        None => (Holder::Root, account.clone()),
    })
}

/// One MFA device assigned to a user (or to root), by serial number. Virtual devices carry no
/// certifications (those describe FIDO security keys).
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetMFADevice.html>.
pub fn get_mfa_device(
    ctx: &Ctx<'_>,
    input: shapes::GetMFADeviceRequest,
) -> Result<shapes::GetMFADeviceResponse, ServiceError> {
    let (holder, shown_name) = holder_of(ctx, input.user_name.as_deref())?;
    let device = read_mfa_device(ctx.db, &ctx.principal.account_id, &input.serial_number)?
        .filter(|d| d.enabled.is_some() && d.holder.as_ref() == Some(&holder))
        .ok_or_else(|| no_such_device(&input.serial_number))?;
    Ok(shapes::GetMFADeviceResponse {
        user_name: Some(shown_name),
        serial_number: device.serial(),
        enable_date: device.enabled,
        certifications: None,
    })
}

pub fn list_mfa_devices(
    ctx: &Ctx<'_>,
    input: shapes::ListMFADevicesRequest,
) -> Result<shapes::ListMFADevicesResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (holder, shown_name) = holder_of(ctx, input.user_name.as_deref())?;
    let devices: Vec<shapes::MFADevice> = all(ctx.db, account)?
        .into_iter()
        .filter(|d| d.holder.as_ref() == Some(&holder))
        .map(|d| shapes::MFADevice {
            user_name: shown_name.clone(),
            serial_number: d.serial(),
            enable_date: d.enabled.unwrap_or(d.created),
        })
        .collect();
    let (mfa_devices, truncated, marker) = super::page_items(devices, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListMFADevicesResponse { mfa_devices, is_truncated: Some(truncated), marker })
}

pub fn list_virtual_mfa_devices(
    ctx: &Ctx<'_>,
    input: shapes::ListVirtualMFADevicesRequest,
) -> Result<shapes::ListVirtualMFADevicesResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let status = input.assignment_status.as_deref().unwrap_or("Any");
    let mut out = Vec::new();
    for d in all(ctx.db, account)? {
        let assigned = d.holder.is_some();
        if (status == "Assigned" && !assigned) || (status == "Unassigned" && assigned) {
            continue;
        }
        let user = match &d.holder {
            Some(Holder::User { name }) => read_user(ctx.db, account, name)?.map(|u| u.to_shape_pub()),
            Some(Holder::Root) => Some(shapes::User {
                path: "/".into(),
                user_name: String::new(),
                user_id: account.clone(),
                arn: format!("arn:aws:iam::{account}:root"),
                create_date: d.created,
                password_last_used: None,
                permissions_boundary: None,
                tags: None,
            }),
            None => None,
        };
        out.push(shapes::VirtualMFADevice {
            serial_number: d.serial(),
            base32_string_seed: None,
            qr_code_png: None,
            user,
            enable_date: d.enabled,
            // Listings leave tags out; ListMFADeviceTags shows them.
            tags: None,
        });
    }
    let (virtual_mfa_devices, truncated, marker) = super::page_items(out, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListVirtualMFADevicesResponse { virtual_mfa_devices, is_truncated: Some(truncated), marker })
}

pub fn tag_mfa_device(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagMFADeviceRequest,
) -> Result<(), ServiceError> {
    let mut d = device_tx(tx, &ctx.principal.account_id, &input.serial_number)?;
    merge_tags(&mut d.tags, input.tags)?;
    write(tx, &d)
}

pub fn untag_mfa_device(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagMFADeviceRequest,
) -> Result<(), ServiceError> {
    let mut d = device_tx(tx, &ctx.principal.account_id, &input.serial_number)?;
    remove_tags(&mut d.tags, &input.tag_keys);
    write(tx, &d)
}

pub fn list_mfa_device_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListMFADeviceTagsRequest,
) -> Result<shapes::ListMFADeviceTagsResponse, ServiceError> {
    let d = read_mfa_device(ctx.db, &ctx.principal.account_id, &input.serial_number)?
        .ok_or_else(|| no_such_device(&input.serial_number))?;
    let (tags, truncated, marker) = super::page_items(tag_shapes(&d.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListMFADeviceTagsResponse { tags, is_truncated: Some(truncated), marker })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", truncated to six digits.
        let seed = b"12345678901234567890";
        assert_eq!(code_for(seed, 59), "287082");
        assert_eq!(code_for(seed, 1_111_111_109), "081804");
        assert_eq!(code_for(seed, 1_234_567_890), "005924");
        assert_eq!(code_for(seed, 2_000_000_000), "279037");
        // RFC 4226 appendix D: HOTP values for counters 0 and 9.
        assert_eq!(hotp(seed, 0), "755224");
        assert_eq!(hotp(seed, 9), "520489");
        assert!(matches(seed, 1, "287082") && !matches(seed, 1, "287083") && !matches(seed, 1, "28708"));
    }

    #[test]
    fn the_uri_names_the_issuer_for_authenticator_apps() {
        assert_eq!(
            otpauth_uri("Rampart", "ana", "123456789012", "ABCDEFGH"),
            "otpauth://totp/Rampart:ana%40123456789012?secret=ABCDEFGH&issuer=Rampart"
        );
        assert_eq!(
            otpauth_uri("coffee-shop", "root account", "123456789012", "X"),
            "otpauth://totp/coffee%2Dshop:root%20account%40123456789012?secret=X&issuer=coffee%2Dshop"
        );
    }

    #[test]
    fn the_qr_code_is_a_png() {
        let png = qr_png("otpauth://totp/a%40123456789012?secret=ABCDEFGH").unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
        assert!(png.len() > 100);
    }
}
