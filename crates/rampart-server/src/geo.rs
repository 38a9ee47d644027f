//! The geolocation and autonomous-system databases web ACLs' geo and ASN matches ask, in
//! MaxMind's format (`--geoip-country-db`, `--geoip-asn-db`): read whole into memory at start.
//! Rampart ships none (their data is licensed by their makers); without one, geo and ASN
//! matches match nothing and logs name no country.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// The databases the server was given.
#[derive(Default)]
pub struct GeoDbs {
    country: Option<maxminddb::Reader<Vec<u8>>>,
    asn: Option<maxminddb::Reader<Vec<u8>>>,
}

impl std::fmt::Debug for GeoDbs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDbs").field("country", &self.country.is_some()).field("asn", &self.asn.is_some()).finish()
    }
}

#[derive(Deserialize)]
struct Located<'a> {
    #[serde(borrow)]
    country: Option<Iso<'a>>,
}

#[derive(Deserialize)]
struct Iso<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Asn {
    autonomous_system_number: Option<u32>,
}

fn open(path: &Path) -> Result<maxminddb::Reader<Vec<u8>>, crate::StartError> {
    maxminddb::Reader::open_readfile(path).map_err(|e| crate::StartError::GeoDatabase(path.to_owned(), e.to_string()))
}

impl GeoDbs {
    /// Opens the databases configured; `None` when neither is.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<Option<GeoDbs>, crate::StartError> {
        if country.is_none() && asn.is_none() {
            return Ok(None);
        }
        Ok(Some(GeoDbs { country: country.map(open).transpose()?, asn: asn.map(open).transpose()? }))
    }
}

impl rampart_waf::engine::fields::Locate for GeoDbs {
    fn country(&self, ip: IpAddr) -> Option<String> {
        let found = self.country.as_ref()?.lookup(ip).ok()?;
        let located: Located<'_> = found.decode().ok()??;
        located.country?.iso_code.map(str::to_owned)
    }

    fn asn(&self, ip: IpAddr) -> Option<u32> {
        let found = self.asn.as_ref()?.lookup(ip).ok()?;
        found.decode::<Asn>().ok()??.autonomous_system_number
    }
}
