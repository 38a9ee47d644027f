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
    /// A City database's regions, the largest first.
    #[serde(borrow, default)]
    subdivisions: Vec<Iso<'a>>,
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

    fn region(&self, ip: IpAddr) -> Option<String> {
        let found = self.country.as_ref()?.lookup(ip).ok()?;
        let located: Located<'_> = found.decode().ok()??;
        located.subdivisions.first()?.iso_code.map(str::to_owned)
    }

    fn asn(&self, ip: IpAddr) -> Option<u32> {
        let found = self.asn.as_ref()?.lookup(ip).ok()?;
        found.decode::<Asn>().ok()??.autonomous_system_number
    }
}

#[cfg(test)]
mod tests {
    use rampart_waf::engine::fields::Locate;

    use super::GeoDbs;

    /// MaxMind's own test databases (vendored with the end-to-end tests): a City database
    /// gives the region too, a Country one only the country.
    #[test]
    fn a_city_database_gives_the_region_and_a_country_database_only_the_country() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rampart-testkit/data/geoip");
        let city = GeoDbs::open(Some(&data.join("GeoIP2-City-Test.mmdb")), None).unwrap().unwrap();
        let gb = "81.2.69.142".parse().unwrap();
        assert_eq!((city.country(gb).as_deref(), city.region(gb).as_deref()), (Some("GB"), Some("ENG")));
        let us = "216.160.83.56".parse().unwrap();
        assert_eq!((city.country(us).as_deref(), city.region(us).as_deref()), (Some("US"), Some("WA")));
        let country = GeoDbs::open(Some(&data.join("GeoIP2-Country-Test.mmdb")), None).unwrap().unwrap();
        assert_eq!((country.country(gb).as_deref(), country.region(gb)), (Some("GB"), None));
        assert_eq!(city.region("127.0.0.1".parse().unwrap()), None);
    }
}
