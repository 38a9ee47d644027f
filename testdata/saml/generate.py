"""Regenerates the SAML test fixtures with an independent XML-signature implementation (signxml
over lxml and cryptography), so Rampart's canonicalization and verification are checked against
someone else's signing, not only their own.

    python3 -m pip install signxml==4.*   # not needed by the test suite itself
    python3 generate.py

Writes metadata.xml (the IdP's metadata with its signing certificate), response.xml (a valid
response, assertion signed, valid until 2099), expired.xml (the same, expired in 2020) and
response-signed.xml (the Response signed instead of the Assertion) and other-cert.b64 (a
certificate of another key, which must not verify any of them). The key is a throwaway test
key generated on each run; nothing here is a secret.
"""

import datetime
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods

HERE = pathlib.Path(__file__).parent
ISSUER = "https://idp.coffee.example/saml"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Baristas"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/CoffeeIdP"



def self_signed(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.coffee.example")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=36500))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def b64_of(cert):
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return "".join(pem.strip().splitlines()[1:-1])


key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
cert = self_signed(key)
cert_pem = cert.public_bytes(serialization.Encoding.PEM)
cert_b64 = b64_of(cert)
(HERE / "other-cert.b64").write_text(b64_of(self_signed(rsa.generate_private_key(public_exponent=65537, key_size=2048))))

(HERE / "metadata.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ISSUER}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.coffee.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
""")


def response(not_before: str, not_after: str) -> str:
    return f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_resp1" Version="2.0" IssueInstant="{not_before}" Destination="https://signin.aws.amazon.com/saml">
  <saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{ISSUER}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_assert1" Version="2.0" IssueInstant="{not_before}">
    <saml:Issuer>{ISSUER}</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">ana@coffee.example</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="{not_after}" Recipient="https://signin.aws.amazon.com/saml"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_after}">
      <saml:AudienceRestriction><saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="{not_before}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
    <saml:AttributeStatement>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">
        <saml:AttributeValue xsi:type="xs:string">{ROLE},{PROVIDER}</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">
        <saml:AttributeValue xsi:type="xs:string">ana@coffee.example</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration">
        <saml:AttributeValue xsi:type="xs:string">1800</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"""


def signed(xml: str, sign_response: bool) -> str:
    root = etree.fromstring(xml.encode())
    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion", "samlp": "urn:oasis:names:tc:SAML:2.0:protocol"}
    target = root if sign_response else root.find("saml:Assertion", ns)
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    # signxml places the Signature as the target's last child; SAML wants it after the Issuer.
    out = signer.sign(target, key=key, cert=cert_pem, reference_uri=target.get("ID"))
    sig = out.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    out.remove(sig)
    out.insert(1, sig)
    if sign_response:
        return etree.tostring(out).decode()
    root.replace(target, out)
    return etree.tostring(root).decode()


(HERE / "response.xml").write_text(signed(response("2026-01-01T00:00:00Z", "2099-12-31T00:00:00Z"), False))
(HERE / "expired.xml").write_text(signed(response("2019-01-01T00:00:00Z", "2020-01-01T00:00:00Z"), False))
(HERE / "response-signed.xml").write_text(signed(response("2026-01-01T00:00:00Z", "2099-12-31T00:00:00Z"), True))
