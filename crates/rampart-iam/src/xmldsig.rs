//! Enveloped XML signatures as SAML identity providers make them: a small namespace-aware DOM,
//! Exclusive XML Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>), and the check of
//! one `ds:Signature` over the element its single `Reference` names, with a key the caller
//! trusts (never one carried in the document). Pure: no I/O.
//!
//! Accepted: `CanonicalizationMethod` exc-c14n (optionally with `InclusiveNamespaces`),
//! `SignatureMethod` RSA PKCS#1 v1.5 with SHA-256/384/512, `DigestMethod` SHA-256/384/512,
//! transforms enveloped-signature and exc-c14n. Refused: SHA-1, DTDs and entity declarations,
//! comments-preserving canonicalization, references to anything but one element by ID, and a
//! document in which that ID is not unique (signature wrapping).

use std::collections::BTreeMap;

use aws_lc_rs::digest;
use quick_xml::events::Event;
use rustls_pki_types::CertificateDer;

/// Namespaces.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// The deepest element nesting accepted.
const MAX_DEPTH: usize = 64;
/// The most elements accepted.
const MAX_ELEMENTS: usize = 10_000;

/// Why a document or its signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    Malformed(String),
    Unsupported(String),
    BadSignature(String),
}

impl XmlError {
    fn malformed(m: impl Into<String>) -> Self {
        Self::Malformed(m.into())
    }
}

/// A node of the DOM.
#[derive(Debug, Clone)]
pub enum Node {
    Element(Element),
    Text(String),
    /// A processing instruction: target and data.
    Pi(String, String),
}

/// An element, with its namespace scope resolved.
#[derive(Debug, Clone)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    /// The element's namespace URI ("" for none).
    pub ns: String,
    /// Attributes other than namespace declarations: (prefix, local name, namespace, value).
    pub attrs: Vec<Attr>,
    /// Every namespace in scope here, by prefix ("" is the default namespace).
    pub scope: BTreeMap<String, String>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub prefix: Option<String>,
    pub local: String,
    pub ns: String,
    pub value: String,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// An unqualified attribute's value.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs.iter().find(|a| a.prefix.is_none() && a.local == local).map(|a| a.value.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The child elements with this name.
    pub fn all<'a>(&'a self, ns: &'a str, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The one child element with this name; `None` when there is none or several.
    pub fn one(&self, ns: &str, local: &str) -> Option<&Element> {
        let mut it = self.elements().filter(|e| e.is(ns, local));
        let first = it.next()?;
        it.next().is_none().then_some(first)
    }

    /// The element's text content (its text children, concatenated).
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }
}

fn split_name(name: &str) -> (Option<String>, String) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p.to_owned()), l.to_owned()),
        None => (None, name.to_owned()),
    }
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses a document into its root element. DTDs are refused (no entity expansion, no external
/// references); only the five predefined entities and character references are resolved.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let open = |e: &quick_xml::events::BytesStart<'_>, parent: Option<&Element>| -> Result<Element, XmlError> {
        let name = e.name().as_ref().to_owned();
        let (prefix, local) = split_name(&name);
        let mut scope = parent.map(|p| p.scope.clone()).unwrap_or_default();
        let mut raw_attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| XmlError::malformed(format!("an attribute: {e}")))?;
            let key: &str = a.key.as_ref();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| XmlError::malformed(format!("an attribute value: {e}")))?
                .into_owned();
            if key == "xmlns" {
                scope.insert(String::new(), value);
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return Err(XmlError::malformed("a prefix cannot be undeclared in XML 1.0"));
                }
                scope.insert(p.to_owned(), value);
            } else {
                raw_attrs.push((key.to_owned(), value));
            }
        }
        let ns_of = |p: &Option<String>, default: bool| -> Result<String, XmlError> {
            match p.as_deref() {
                Some("xml") => Ok(XML_NS.to_owned()),
                Some(p) => scope.get(p).cloned().ok_or_else(|| XmlError::malformed(format!("undeclared prefix {p}"))),
                None if default => Ok(scope.get("").cloned().unwrap_or_default()),
                None => Ok(String::new()),
            }
        };
        let ns = ns_of(&prefix, true)?;
        let mut attrs = Vec::new();
        for (k, value) in raw_attrs {
            let (p, l) = split_name(&k);
            let ans = ns_of(&p, false)?;
            if attrs.iter().any(|a: &Attr| a.ns == ans && a.local == l) {
                return Err(XmlError::malformed("a repeated attribute"));
            }
            attrs.push(Attr { prefix: p, local: l, ns: ans, value });
        }
        Ok(Element { prefix, local, ns, attrs, scope, children: Vec::new() })
    };
    let push_text = |stack: &mut Vec<Element>, t: &str| -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(top) => {
                if let Some(Node::Text(prev)) = top.children.last_mut() {
                    prev.push_str(t);
                } else {
                    top.children.push(Node::Text(t.to_owned()));
                }
                Ok(())
            }
            None if t.trim().is_empty() => Ok(()),
            None => Err(XmlError::malformed("text outside the root element")),
        }
    };
    loop {
        let ev = reader.read_event().map_err(|e| XmlError::malformed(format!("XML: {e}")))?;
        match ev {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(XmlError::malformed("content after the root element"));
            }
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError::malformed("the document is too deep or too large"));
                }
                let el = open(&e, stack.last())?;
                stack.push(el);
            }
            Event::Empty(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError::malformed("the document is too deep or too large"));
                }
                let el = open(&e, stack.last())?;
                match stack.last_mut() {
                    Some(top) => top.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| XmlError::malformed("an unmatched end tag"))?;
                match stack.last_mut() {
                    Some(top) => top.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => {
                let text: String = c.xml10_content().into_owned();
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let ch = match r
                    .resolve_char_ref()
                    .map_err(|e| XmlError::malformed(format!("a character reference: {e}")))?
                {
                    Some(c) => c,
                    None => {
                        let name: &str = &r;
                        entity(name).ok_or_else(|| XmlError::malformed(format!("unknown entity &{name};")))?
                    }
                };
                push_text(&mut stack, ch.encode_utf8(&mut [0; 4]))?;
            }
            Event::Comment(_) | Event::Decl(_) => {}
            Event::PI(p) => {
                if let Some(top) = stack.last_mut() {
                    let content: &str = &p;
                    let (target, data) = content.split_once(char::is_whitespace).unwrap_or((content, ""));
                    top.children.push(Node::Pi(target.to_owned(), data.trim_start().to_owned()));
                }
            }
            Event::DocType(_) => return Err(XmlError::Unsupported("documents with a DTD are refused".into())),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::malformed("the document ends inside an element"));
    }
    root.ok_or_else(|| XmlError::malformed("no root element"))
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// The exclusive canonical form of `el` (without comments), leaving out `skip` (the enveloped
/// signature) wherever it occurs below. `inclusive` is the transform's `PrefixList`.
pub fn exc_c14n(el: &Element, inclusive: &[String], skip: Option<*const Element>) -> String {
    let mut out = String::new();
    render(el, &BTreeMap::new(), inclusive, skip, &mut out);
    out
}

fn render(
    el: &Element,
    rendered: &BTreeMap<String, String>,
    inclusive: &[String],
    skip: Option<*const Element>,
    out: &mut String,
) {
    // The prefixes this element visibly uses, and those the PrefixList makes inclusive.
    let mut used: Vec<String> = vec![el.prefix.clone().unwrap_or_default()];
    for a in &el.attrs {
        if let Some(p) = &a.prefix
            && p != "xml"
        {
            used.push(p.clone());
        }
    }
    for p in inclusive {
        let p = if p == "#default" { String::new() } else { p.clone() };
        if el.scope.contains_key(&p) {
            used.push(p);
        }
    }
    used.sort();
    used.dedup();
    let mut now = rendered.clone();
    let mut decls: Vec<(String, String)> = Vec::new();
    for p in used {
        let uri = el.scope.get(&p).cloned().unwrap_or_default();
        let before = rendered.get(&p).cloned().unwrap_or_default();
        if p.is_empty() && uri.is_empty() && before.is_empty() {
            continue;
        }
        if rendered.get(&p) != Some(&uri) {
            decls.push((p.clone(), uri.clone()));
            now.insert(p, uri);
        }
    }
    let name = match &el.prefix {
        Some(p) => format!("{p}:{}", el.local),
        None => el.local.clone(),
    };
    out.push('<');
    out.push_str(&name);
    for (p, uri) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    let mut attrs: Vec<&Attr> = el.attrs.iter().collect();
    attrs.sort_by(|a, b| (a.ns.as_str(), a.local.as_str()).cmp(&(b.ns.as_str(), b.local.as_str())));
    for a in attrs {
        out.push(' ');
        if let Some(p) = &a.prefix {
            out.push_str(p);
            out.push(':');
        }
        out.push_str(&a.local);
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');
    for child in &el.children {
        match child {
            Node::Element(c) if skip == Some(c as *const Element) => {}
            Node::Element(c) => render(c, &now, inclusive, skip, out),
            Node::Text(t) => escape_text(t, out),
            Node::Pi(target, data) => {
                out.push_str("<?");
                out.push_str(target);
                if !data.is_empty() {
                    out.push(' ');
                    out.push_str(data);
                }
                out.push_str("?>");
            }
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

/// Every `ID` attribute value in the document, with how often it occurs.
fn ids<'a>(el: &'a Element, out: &mut BTreeMap<&'a str, usize>) {
    for a in &el.attrs {
        if a.prefix.is_none() && (a.local == "ID" || a.local == "Id" || a.local == "id") {
            *out.entry(a.value.as_str()).or_default() += 1;
        }
    }
    for c in el.elements() {
        ids(c, out);
    }
}

fn algorithm(el: &Element, ns: &str, local: &str) -> Result<String, XmlError> {
    el.one(ns, local)
        .and_then(|m| m.attr("Algorithm"))
        .map(str::to_owned)
        .ok_or_else(|| XmlError::malformed(format!("the signature has no single {local}")))
}

/// The `PrefixList` of an exc-c14n method element's `InclusiveNamespaces`, if any.
fn prefix_list(method: &Element) -> Vec<String> {
    method
        .one(EXC_C14N, "InclusiveNamespaces")
        .and_then(|i| i.attr("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn digest_alg(uri: &str) -> Result<&'static digest::Algorithm, XmlError> {
    match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(&digest::SHA256),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(&digest::SHA384),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(&digest::SHA512),
        other => Err(XmlError::Unsupported(format!("digest method {other}"))),
    }
}

fn signature_alg(uri: &str) -> Result<&'static dyn rustls_pki_types::SignatureVerificationAlgorithm, XmlError> {
    match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Ok(webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Ok(webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Ok(webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512),
        other => Err(XmlError::Unsupported(format!("signature method {other}"))),
    }
}

fn b64(text: &str) -> Result<Vec<u8>, XmlError> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    data_encoding::BASE64.decode(clean.as_bytes()).map_err(|_| XmlError::malformed("a base64 value is not base64"))
}

/// Verifies the signature that is a direct child of `signed` and covers it (enveloped), with one
/// of `certs` (DER X.509 certificates the caller trusts). `doc` is the whole document, to check
/// that the signed element's ID is unique in it.
pub fn verify_enveloped(doc: &Element, signed: &Element, certs: &[Vec<u8>]) -> Result<(), XmlError> {
    let sig =
        signed.one(DSIG, "Signature").ok_or_else(|| XmlError::BadSignature("the element is not signed".into()))?;
    let id = signed.attr("ID").ok_or_else(|| XmlError::malformed("the signed element has no ID"))?;
    let mut seen = BTreeMap::new();
    ids(doc, &mut seen);
    if seen.get(id) != Some(&1) {
        return Err(XmlError::BadSignature("the signed element's ID is not unique".into()));
    }
    let info = sig.one(DSIG, "SignedInfo").ok_or_else(|| XmlError::malformed("no single SignedInfo"))?;
    let c14n =
        info.one(DSIG, "CanonicalizationMethod").ok_or_else(|| XmlError::malformed("no CanonicalizationMethod"))?;
    if c14n.attr("Algorithm") != Some(EXC_C14N) {
        return Err(XmlError::Unsupported(format!("canonicalization {}", c14n.attr("Algorithm").unwrap_or(""))));
    }
    let sig_alg = signature_alg(&algorithm(info, DSIG, "SignatureMethod")?)?;
    let reference = info.one(DSIG, "Reference").ok_or_else(|| XmlError::malformed("not exactly one Reference"))?;
    if reference.attr("URI") != Some(&format!("#{id}")) {
        return Err(XmlError::BadSignature("the signature does not cover the signed element".into()));
    }
    let mut inclusive = Vec::new();
    let mut enveloped = false;
    if let Some(transforms) = reference.one(DSIG, "Transforms") {
        for t in transforms.all(DSIG, "Transform") {
            match t.attr("Algorithm") {
                Some(ENVELOPED) => enveloped = true,
                Some(EXC_C14N) => inclusive = prefix_list(t),
                other => return Err(XmlError::Unsupported(format!("transform {}", other.unwrap_or("")))),
            }
        }
    }
    if !enveloped {
        return Err(XmlError::Unsupported("a signature inside the signed element must be enveloped".into()));
    }
    let dalg = digest_alg(&algorithm(reference, DSIG, "DigestMethod")?)?;
    let expected =
        b64(&reference.one(DSIG, "DigestValue").ok_or_else(|| XmlError::malformed("no DigestValue"))?.text())?;
    let canonical = exc_c14n(signed, &inclusive, Some(sig as *const Element));
    let actual = digest::digest(dalg, canonical.as_bytes());
    if aws_lc_rs::constant_time::verify_slices_are_equal(actual.as_ref(), &expected).is_err() {
        return Err(XmlError::BadSignature("the digest of the signed element does not match".into()));
    }
    let value = b64(&sig.one(DSIG, "SignatureValue").ok_or_else(|| XmlError::malformed("no SignatureValue"))?.text())?;
    let signed_info = exc_c14n(info, &prefix_list(c14n), None);
    let ok = certs.iter().any(|der| {
        let der = CertificateDer::from(der.as_slice());
        webpki::EndEntityCert::try_from(&der)
            .is_ok_and(|cert| cert.verify_signature(sig_alg, signed_info.as_bytes(), &value).is_ok())
    });
    if ok { Ok(()) } else { Err(XmlError::BadSignature("the signature does not verify".into())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str) -> String {
        let root = parse(xml).unwrap();
        exc_c14n(&root, &[], None)
    }

    #[test]
    fn canonical_form_follows_the_spec() {
        // Empty elements expanded, attributes sorted, namespace declarations only where used.
        assert_eq!(
            c14n(r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" z="1" a="2"><a:e/></a:r>"#),
            r#"<a:r xmlns:a="urn:a" a="2" z="1"><a:e></a:e></a:r>"#
        );
        // A namespace declared above is rendered where it is first used in the subtree.
        let root = parse(r#"<r xmlns:p="urn:p"><c><p:d p:x="1"/></c></r>"#).unwrap();
        let c = root.elements().next().unwrap();
        assert_eq!(exc_c14n(c, &[], None), r#"<c><p:d xmlns:p="urn:p" p:x="1"></p:d></c>"#);
        // InclusiveNamespaces renders listed prefixes in scope.
        assert_eq!(exc_c14n(c, &["p".into()], None), r#"<c xmlns:p="urn:p"><p:d p:x="1"></p:d></c>"#);
        // Escaping of text and attribute values; entities and character references resolved.
        assert_eq!(
            c14n("<r a=\"&lt;&quot;&#9;x\">&amp;&lt;&gt;&#x41;\r\n<![CDATA[<b>]]></r>"),
            "<r a=\"&lt;&quot;&#x9;x\">&amp;&lt;&gt;A\n&lt;b&gt;</r>"
        );
        // Attributes sort by namespace URI, then local name; the default namespace is kept.
        assert_eq!(
            c14n(r#"<r xmlns="urn:d" xmlns:z="urn:a" z:b="1" c="2" a="3"/>"#),
            r#"<r xmlns="urn:d" xmlns:z="urn:a" a="3" c="2" z:b="1"></r>"#
        );
        // Comments vanish.
        assert_eq!(c14n("<r><!-- hi -->t</r>"), "<r>t</r>");
    }

    #[test]
    fn hostile_documents_are_refused() {
        let doctype = r#"<!DOCTYPE r [<!ENTITY x "xxxxxxxx">]><r>&x;</r>"#;
        assert!(matches!(parse(doctype), Err(XmlError::Unsupported(_))));
        assert!(parse("<r>&unknown;</r>").is_err());
        assert!(parse("<r><a></b></r>").is_err());
        assert!(parse("<p:r/>").is_err(), "undeclared prefix");
        assert!(parse("<r/><r/>").is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(&deep).is_err());
        assert!(parse(r#"<r a="1" a="2"/>"#).is_err());
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    const RESPONSE: &str = include_str!("../../../testdata/saml/response.xml");
    const RESPONSE_SIGNED: &str = include_str!("../../../testdata/saml/response-signed.xml");
    const METADATA: &str = include_str!("../../../testdata/saml/metadata.xml");

    fn cert() -> Vec<u8> {
        let meta = parse(METADATA).unwrap();
        let text = meta
            .elements()
            .flat_map(|d| d.elements())
            .flat_map(|k| k.elements())
            .flat_map(|i| i.elements())
            .flat_map(|x| x.elements())
            .find(|c| c.is(DSIG, "X509Certificate"))
            .unwrap()
            .text();
        b64(&text).unwrap()
    }

    /// Signatures made by another implementation (signxml, see testdata/saml/generate.py) verify.
    #[test]
    fn independently_signed_assertions_and_responses_verify() {
        let doc = parse(RESPONSE).unwrap();
        let assertion = doc.elements().find(|e| e.local == "Assertion").unwrap();
        assert_eq!(verify_enveloped(&doc, assertion, &[cert()]), Ok(()));
        let doc = parse(RESPONSE_SIGNED).unwrap();
        assert_eq!(verify_enveloped(&doc, &doc, &[cert()]), Ok(()));
        // Another key does not verify it.
        let other = other_cert();
        assert!(matches!(verify_enveloped(&doc, &doc, &[other]), Err(XmlError::BadSignature(_))));
    }

    #[test]
    fn any_change_to_the_signed_content_breaks_the_signature() {
        for (from, to) in [
            ("ana@coffee.example</saml:NameID>", "eve@coffee.example</saml:NameID>"),
            ("role/Baristas", "role/Admin"),
            ("<saml:AttributeValue xsi:type=\"xs:string\">1800", "<saml:AttributeValue xsi:type=\"xs:string\">43200"),
        ] {
            let tampered = RESPONSE.replace(from, to);
            assert_ne!(tampered, RESPONSE);
            let doc = parse(&tampered).unwrap();
            let assertion = doc.elements().find(|e| e.local == "Assertion").unwrap();
            assert!(matches!(verify_enveloped(&doc, assertion, &[cert()]), Err(XmlError::BadSignature(_))), "{to}");
        }
        // Whitespace between elements is content too.
        let spaced = RESPONSE.replace("<saml:Subject>", "<saml:Subject> ");
        let doc = parse(&spaced).unwrap();
        let assertion = doc.elements().find(|e| e.local == "Assertion").unwrap();
        assert!(verify_enveloped(&doc, assertion, &[cert()]).is_err());
    }

    #[test]
    fn a_duplicated_id_is_refused() {
        // Signature wrapping: a second element claiming the signed element's ID.
        let wrapped = RESPONSE
            .replace("<samlp:Status>", "<samlp:Extensions><x ID=\"_assert1\"/></samlp:Extensions><samlp:Status>");
        let doc = parse(&wrapped).unwrap();
        let assertion = doc.elements().find(|e| e.local == "Assertion").unwrap();
        assert!(matches!(verify_enveloped(&doc, assertion, &[cert()]), Err(XmlError::BadSignature(_))));
    }

    /// A certificate of another key (testdata/saml/other-cert.b64).
    fn other_cert() -> Vec<u8> {
        b64(include_str!("../../../testdata/saml/other-cert.b64")).unwrap()
    }
}
