"""The demo data set: four jurisdictions' people (a user for every role) and a multinational
ransomware case with requests in several states, each carried through the real service verbs
(so timelines, deadlines and versions are genuine), back-dated to end now."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.clock import Clock, ManualClock
from rogatory.config import Settings
from rogatory.directory.models import Authority
from rogatory.identity import credentials
from rogatory.identity import service as identity
from rogatory.identity.models import Role, User
from rogatory.identity.policy import Actor
from rogatory.instruments import catalogue
from rogatory.requests import service
from rogatory.requests.enums import Verb
from rogatory.requests.models import Case, Request
from rogatory.safeguards import checks as safeguard_checks
from rogatory.safeguards import rules as safeguard_rules
from rogatory.safeguards import service as safeguards

CASE_REFERENCE = "FR-2026-LOCKSTORM"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    authority_id: str
    role: Role
    language: str
    timezone: str


USERS: list[DemoUser] = [
    DemoUser("camille.martin", "Camille Martin", "fr-parquet-paris-j3", Role.PROSECUTOR, "fr",
             "Europe/Paris"),
    DemoUser("helene.roux", "Hélène Roux", "fr-tj-paris-instruction", Role.INVESTIGATING_JUDGE,
             "fr", "Europe/Paris"),
    DemoUser("marc.lambert", "Marc Lambert", "fr-tj-paris-jld", Role.JUDGE, "fr",
             "Europe/Paris"),
    DemoUser("luc.bernard", "Luc Bernard", "fr-central-authority",
             Role.CENTRAL_AUTHORITY_OFFICER, "fr", "Europe/Paris"),
    DemoUser("ines.garcia", "Inès Garcia", "fr-parquet-paris-j3", Role.FORENSIC_EXAMINER, "fr",
             "Europe/Paris"),
    DemoUser("noah.lefebvre", "Noah Lefebvre", "fr-central-authority", Role.COORDINATOR, "fr",
             "Europe/Paris"),
    DemoUser("sarah.petit", "Sarah Petit", "fr-parquet-paris-j3", Role.VICTIM_LIAISON, "fr",
             "Europe/Paris"),
    DemoUser("claire.dubois", "Claire Dubois", "fr-corvus-telecom", Role.PROVIDER_RESPONDER,
             "fr", "Europe/Paris"),
    DemoUser("margot.weber", "Margot Weber", "fr-central-authority", Role.OVERSIGHT_AUDITOR,
             "en", "Europe/Paris"),
    DemoUser("admin", "Node administrator", "fr-central-authority", Role.ADMINISTRATOR, "en",
             "UTC"),
    DemoUser("felix.wagner", "Felix Wagner", "de-zac-nrw", Role.PROSECUTOR, "de",
             "Europe/Berlin"),
    DemoUser("jonas.becker", "Jonas Becker", "de-sta-berlin-rechtshilfe",
             Role.EXECUTING_OFFICER, "de", "Europe/Berlin"),
    DemoUser("anna.schmidt", "Anna Schmidt", "de-central-authority",
             Role.CENTRAL_AUTHORITY_OFFICER, "de", "Europe/Berlin"),
    DemoUser("mia.hoffmann", "Mia Hoffmann", "de-atlas-hosting", Role.PROVIDER_RESPONDER, "de",
             "Europe/Berlin"),
    DemoUser("daan.devries", "Daan de Vries", "nl-nimbus-mail", Role.PROVIDER_RESPONDER, "nl",
             "Europe/Amsterdam"),
    DemoUser("sanne.jansen", "Sanne Jansen", "nl-irc-amsterdam", Role.EXECUTING_OFFICER, "nl",
             "Europe/Amsterdam"),
    DemoUser("emily.carter", "Emily Carter", "us-central-authority",
             Role.CENTRAL_AUTHORITY_OFFICER, "en", "America/New_York"),
    DemoUser("ryan.brooks", "Ryan Brooks", "us-contact-point-24-7", Role.EXECUTING_OFFICER,
             "en", "America/New_York"),
    DemoUser("olivia.reed", "Olivia Reed", "us-kestrel-cloud", Role.PROVIDER_RESPONDER, "en",
             "America/New_York"),
]

ASSESSMENT = safeguard_rules.AssessmentInput(
    offence="Extorsion en bande organisée et atteintes à des systèmes de traitement automatisé "
            "de données de santé (art. 312-6, 323-1 à 323-4-1 du code pénal)",
    maximum_penalty_years=20,
    necessity="Les journaux de connexion du serveur de commande sont la seule piste pour "
              "identifier l'administrateur de LockStorm.",
    proportionality="Un seul compte, trois jours de données, pour une attaque contre trois "
                    "hôpitaux.",
    least_intrusive_alternative="Les données d'abonné seules.",
    alternative_insufficient_because="Les données d'abonné sont fausses ; seules les adresses "
                                     "IP de connexion mènent à l'administrateur.",
    data_from=date(2026, 11, 1), data_to=date(2026, 11, 3),
    data_scope="Adresses IP, ports et horodatages des connexions au compte "
               "ops-lockstorm@atlas-hosting.example.",
    persons_affected="Le ou les utilisateurs du compte ; aucun tiers identifié.",
    privileged_persons=("none",),
)
"""The demo's necessity and proportionality assessment of the LockStorm measures."""

# Realistic values for the fields the instruments share; anything else is filled by type.
VALUES: dict[str, Any] = {
    "issuing_file_number": "PARQUET-J3-2026-0417",
    "requesting_file_number": "PARQUET-J3-2026-0417",
    "requesting_authority": "Parquet de Paris, section J3 (cybercriminalité)",
    "issuing_authority": "Parquet de Paris, section J3 (cybercriminalité)",
    "issuing_authority_name": "Parquet de Paris, section J3 (cybercriminalité)",
    "contact_email": "j3.cyber@parquet-paris.example",
    "identifiers": "Compte ops-lockstorm@nimbusmail.example; IP 203.0.113.7, "
                   "2026-11-01 02:14 à 04:40 UTC",
    "offence_description": "Attaque par rançongiciel « LockStorm » contre trois hôpitaux "
                           "(Lyon, Rotterdam, Munich) : accès frauduleux, entrave et extorsion "
                           "en bande organisée (art. 323-1 à 323-4-1 et 312-1 du code pénal).",
    "necessity_and_proportionality": "Les données demandées sont la seule piste pour "
                                     "identifier l'administrateur du serveur de commande ; "
                                     "la demande est limitée à 72 heures.",
    "facts_summary": "Le 1er novembre 2026, les systèmes de trois hôpitaux ont été chiffrés "
                     "par le rançongiciel LockStorm ; une rançon de 40 BTC a été exigée.",
    "offence_and_facts": "Rançongiciel LockStorm contre trois hôpitaux, 1er novembre 2026.",
    "data_and_relationship": "Journaux de connexion du serveur de commande hébergé chez "
                             "Kestrel Cloud, utilisé pendant l'attaque.",
    "necessity": "Les journaux sont effacés après 30 jours.",
    "intent_to_submit_mla": True,
    "transfer_to_authority": "Parquet de Paris, section J3",
    "addressee_capacity": "legal_representative",
}


def _value(name: str, ftype: str, choices: list[str] | None, clock: Clock) -> Any:
    if name in VALUES:
        return VALUES[name]
    if ftype in ("choice",):
        return (choices or [""])[0]
    if ftype == "multichoice":
        return (choices or [])[:1]
    if ftype == "boolean":
        return True
    if ftype == "integer":
        return 10
    if ftype == "date":
        return clock.now().date().isoformat()
    if ftype == "datetime":
        return clock.now().isoformat()
    if ftype == "email":
        return VALUES["contact_email"]
    if ftype == "country":
        return "FR"
    return "Voir le dossier LockStorm (FR-2026-LOCKSTORM)."


def complete_form(instrument_code: str, addressee: str, clock: Clock,
                  **overrides: Any) -> dict[str, Any]:
    """Every required field of the instrument, filled for the LockStorm case."""
    form: dict[str, Any] = {}
    for section in catalogue.get(instrument_code).sections:
        for f in section.fields:
            if f.required:
                form[f.name] = _value(f.name, f.type, f.choices, clock)
    if "addressee_name" in form:
        form["addressee_name"] = addressee
    form.update(overrides)
    return form


class _Script:
    """Drives requests through the service with a clock that moves forward."""

    def __init__(self, session: Session, actors: dict[str, Actor], clock: ManualClock) -> None:
        self.session, self.actors, self.clock = session, actors, clock

    def create(self, who: str, instrument: str, executing: str, categories: list[str], *,
               validating: str | None = None, emergency: bool = False,
               case: str = CASE_REFERENCE, language: str = "fr") -> Request:
        actor = self.actors[who]
        addressee = self.session.get(Authority, executing)
        assert addressee is not None
        draft = service.RequestDraft(
            case_reference=case, instrument=instrument,
            issuing_authority_id=actor.authority_id,
            validating_authority_id=validating or actor.authority_id,
            executing_authority_id=executing, data_categories=categories,
            emergency=emergency, language=language,
            form=complete_form(instrument, addressee.name, self.clock),
        )
        return service.create_request(session=self.session, actor=actor, draft=draft,
                                      clock=self.clock)

    def act(self, who: str, request: Request, verb: Verb, after: timedelta,
            **kw: Any) -> Request:
        self.clock.advance(after)
        if verb is Verb.VALIDATE:
            self.assess(who, request)
        return service.act(session=self.session, actor=self.actors[who], request_id=request.id,
                           action=service.Action(verb=verb, expected_version=request.version,
                                                 **kw), clock=self.clock)

    def assess(self, who: str, request: Request) -> None:
        """The assessment an intrusive measure needs before it is validated, as the demo's (or a
        rehearsal's) validating judge records it; nothing for any other measure, or when the
        request has one already."""
        instrument = catalogue.get(request.instrument)
        if not safeguard_rules.is_intrusive(instrument, request.data_categories, request.form):
            return
        if safeguard_checks.current_assessment(self.session, request.id) is not None:
            return
        safeguards.record_assessment(session=self.session, actor=self.actors[who],
                                     request_id=request.id, values=ASSESSMENT,
                                     clock=self.clock)

    def validate(self, validator: str, request: Request, after: timedelta,
                 tools: tuple[str, ...] = ()) -> Request:
        """The validating authority's reasoned decision, which validates the order."""
        self.clock.advance(after)
        self.assess(validator, request)
        grounds = ["necessary", "proportionate"]
        if safeguard_rules.is_intrusive(catalogue.get(request.instrument),
                                        request.data_categories, request.form):
            grounds += ["least_intrusive"]
        safeguards.decide(
            session=self.session, actor=self.actors[validator], request_id=request.id,
            clock=self.clock, draft=safeguards.DecisionDraft(
                stage=safeguard_rules.Stage.VALIDATION, outcome=safeguard_rules.Outcome.GRANT,
                grounds=grounds, reasons="Necessary and proportionate for the identification "
                "of the attackers.", tools=list(tools), expected_version=request.version))
        return request

    def received(self, who: str, request: Request, description: str) -> None:
        """Data received, with their purpose and retention period (data protection)."""
        safeguards.record_data(
            session=self.session, actor=self.actors[who], request_id=request.id,
            clock=self.clock, draft=safeguards.DataDraft(
                category=request.data_categories[0], description=description,
                purpose=f"Criminal proceedings {CASE_REFERENCE} (Parquet de Paris, J3): "
                        "identifying the LockStorm attackers",
                retention_until=self.clock.now().date() + timedelta(days=5 * 365)))

    def translate(self, who: str, request: Request, language: str) -> Request:
        for name, status in service.translation_status(self.session, request).items():
            if status == "needed":
                request = service.set_translation(
                    session=self.session, actor=self.actors[who], request_id=request.id,
                    expected_version=request.version, field_name=name, language=language,
                    text=f"[{language}] certified translation of the '{name}' field",
                    certified=True, clock=self.clock)
        return request

    def issue(self, who: str, request: Request, validator: str, language: str,
              start_after: timedelta, tools: tuple[str, ...] = ()) -> Request:
        h = timedelta(hours=1)
        request = self.act(who, request, Verb.SUBMIT, start_after)
        request = self.validate(validator, request, 2 * h, tools)
        request = self.translate(who, request, language)
        return self.act(who, request, Verb.SEND, h)


def _users(session: Session, settings: Settings, clock: Clock) -> dict[str, Actor]:
    actors: dict[str, Actor] = {}
    secret = settings.secret_key.get_secret_value()
    for u in USERS:
        user = identity.ensure_user(session=session, username=u.username,
                                    display_name=u.display_name, authority_id=u.authority_id,
                                    role=u.role, language=u.language, timezone=u.timezone,
                                    clock=clock)
        identity.issue_token(session=session, user=user, name="demo", clock=clock,
                             token=identity.demo_token(secret, u.username))
        if user.password_hash is None:  # password and second factor, printed by `serve`
            credentials.set_password(session=session, user=user, password=DEMO_PASSWORD)
            credentials.enroll_totp(session=session, user=user, node_secret=secret,
                                    issuer=f"Rogatory {settings.node_name}", clock=clock,
                                    secret=demo_totp_secret(secret, u.username))
        actors[u.username] = identity.actor_for(session, user)
    return actors


DEMO_PASSWORD = "rogatory-demo-2026"


def demo_totp_secret(node_secret: str, username: str) -> str:
    """A stable TOTP secret per demo user (base32), derived from the node secret like the demo
    tokens, so that `serve` can print it at every start."""
    mac = hmac.new(node_secret.encode(), f"demo-totp:{username}".encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()[:20]).decode("ascii")


def load(*, session: Session, settings: Settings, clock: Clock) -> bool:
    """Load the demo once (returns False when it is already there)."""
    actors = _users(session, settings, clock)
    if session.scalar(select(Case.id).where(Case.reference == CASE_REFERENCE)):
        return False
    now = clock.now()
    script = _Script(session, actors, ManualClock(now - timedelta(days=9)))
    h, d = timedelta(hours=1), timedelta(days=1)
    service.create_case(
        session=session, actor=actors["camille.martin"], reference=CASE_REFERENCE,
        title="LockStorm ransomware attack on hospitals in Lyon, Rotterdam and Munich",
        summary="On 1 November 2026 the LockStorm group encrypted the systems of three "
                "hospitals and demanded 40 BTC. Command servers in DE and the US, a mailbox "
                "in NL, and payments through a Dutch exchange.",
        participants=["fr-tj-paris-instruction", "fr-tj-paris-jld", "fr-central-authority"],
        clock=script.clock,
    )
    service.create_case(
        session=session, actor=actors["felix.wagner"], reference="DE-2026-ZAC-5521",
        title="LockStorm: German victims (Klinikum München)",
        summary="German proceedings on the LockStorm attack on Klinikum München.",
        clock=script.clock,
    )
    # 1. EPOC to the Dutch mail provider, subscriber data: executed and closed.
    r = script.create("camille.martin", "epoc", "nl-nimbus-mail", ["subscriber"])
    r = script.issue("camille.martin", r, "camille.martin", "en", h)
    for verb in (Verb.ACKNOWLEDGE, Verb.BEGIN_REVIEW, Verb.BEGIN_EXECUTION):
        r = script.act("daan.devries", r, verb, 3 * h)
    r = script.act("daan.devries", r, Verb.EXECUTE, d, reason="Subscriber data produced.")
    script.received("camille.martin", r, "Subscriber record of ops-lockstorm@nimbusmail.example "
                    "(name given, registration date, IP address at sign-up)")
    script.act("camille.martin", r, Verb.CLOSE, 5 * h, reason="Data received and sealed.")
    # 2. EPOC-PR to the Dutch provider: preservation running for 60 days.
    r = script.create("camille.martin", "epoc_pr", "nl-nimbus-mail", ["content"])
    r = script.issue("camille.martin", r, "camille.martin", "en", h)
    r = script.act("daan.devries", r, Verb.ACKNOWLEDGE, 2 * h)
    # 3. EIO to Berlin: more information requested.
    r = script.create("camille.martin", "eio", "de-sta-berlin-rechtshilfe", ["other"])
    r = script.issue("camille.martin", r, "camille.martin", "de", d)
    r = script.act("jonas.becker", r, Verb.ACKNOWLEDGE, 5 * h)
    r = script.act("jonas.becker", r, Verb.BEGIN_REVIEW, d)
    script.act("jonas.becker", r, Verb.REQUEST_INFORMATION, 4 * h,
               reason="Please state the hospitals' server names and the exact period.")
    # 4. EPOC to the German host, traffic data, issued by the investigating judge after her
    # assessment, with an analytic tool the judge of liberties approved: notified to the German
    # central authority (Art. 8), under review.
    tool = safeguards.register_tool(
        session=session, actor=actors["marc.lambert"], clock=script.clock,
        draft=safeguards.ToolDraft(
            name="WalletCluster (demo)", version="2.3.0",
            purpose="Groups cryptocurrency addresses likely controlled by one actor "
                    "(common-input heuristic); used to link the ransom wallet to the "
                    "command server's operator",
            error_rates="False merges 1.8% and missed links 12% on the vendor's 2025 "
                        "benchmark; not independently validated",
            bias_assessment="Uses no personal attributes; weaker coverage of privacy wallets "
                            "and non-EU exchanges, so links are more likely missed than "
                            "invented"))
    r = script.create("helene.roux", "epoc", "de-atlas-hosting", ["traffic"])
    r = script.issue("helene.roux", r, "helene.roux", "de", d, tools=(tool.id,))
    r = script.act("mia.hoffmann", r, Verb.ACKNOWLEDGE, 6 * h)
    script.act("mia.hoffmann", r, Verb.BEGIN_REVIEW, 3 * h)
    # 5. Budapest Art. 29 preservation to the US 24/7 point of contact: acknowledged.
    r = script.create("camille.martin", "budapest_preservation", "us-contact-point-24-7",
                      ["traffic"])
    r = script.issue("camille.martin", r, "camille.martin", "en", 2 * h)
    r = script.act("ryan.brooks", r, Verb.ACKNOWLEDGE, h)
    # 6. Budapest MLA to the US Office of International Affairs: awaiting validation.
    r = script.create("helene.roux", "budapest_mla", "us-central-authority", ["content"])
    script.act("helene.roux", r, Verb.SUBMIT, 3 * h)
    # 7. Incoming EPOC from Germany to the French telecom provider: received.
    r = script.create("felix.wagner", "epoc", "fr-corvus-telecom", ["subscriber"],
                      case="DE-2026-ZAC-5521", language="de")
    script.issue("felix.wagner", r, "felix.wagner", "fr", 2 * h)
    # 8. Emergency EPOC to the German host, subscriber data: 8 hours running, sent just now.
    script.clock.set(max(script.clock.now(), now - 3 * h))
    r = script.create("camille.martin", "epoc", "de-atlas-hosting", ["subscriber"],
                      emergency=True)
    script.issue("camille.martin", r, "camille.martin", "de", timedelta(minutes=5))
    # 9. A freezing order to Berlin, still a draft.
    script.create("camille.martin", "freezing_order", "de-sta-berlin-rechtshilfe", ["other"])
    # 10. Evidence: the ransom note seized at the Lyon hospital, sealed and analysed.
    _demo_evidence(session, settings, actors, ManualClock(now - timedelta(days=8)))
    return True


RANSOM_NOTE = (
    b"!!! YOUR NETWORK HAS BEEN LOCKED BY LOCKSTORM !!!\n"
    b"All files of this hospital are encrypted. Pay 40 BTC within 72 hours.\n"
    b"Contact: ops-lockstorm@nimbusmail.example  ID: 7f3a-LYON-CHU\n"
)


def _demo_evidence(session: Session, settings: Settings, actors: dict[str, Actor],
                   clock: ManualClock) -> None:
    from rogatory.evidence import service as evidence
    from rogatory.evidence.store import EvidenceStore
    from rogatory.timestamp.client import timestamper

    examiner = actors["ines.garcia"]
    item = evidence.ingest(
        session=session, store=EvidenceStore(settings.evidence_dir), actor=examiner,
        case_reference=CASE_REFERENCE, chunks=[RANSOM_NOTE], original_name="README_LOCKSTORM.txt",
        metadata=evidence.AcquisitionMetadata(
            examiner="Inès Garcia", acquired_at=clock.now() - timedelta(hours=3),
            tool="FTK Imager", tool_version="4.7.1", method="logical copy",
            source_device="CHU Lyon file server FS-02", seal_number="SCELLE-J3-0417-01",
            place="CHU de Lyon, salle serveurs"),
        claimed=None, legacy_hashes=False, clock=clock,
        timestamp=timestamper(settings))  # trusted time is never back-dated, even in a demo
    for kind, note, after in (("sealed", "Sealed under SCELLE-J3-0417-01", 1),
                              ("transferred", "Handed to the J3 evidence room", 5),
                              ("analysed", "Ransom note text extracted", 26)):
        clock.advance(timedelta(hours=after))
        evidence.record_custody(session=session, actor=examiner, item_id=item.id, kind=kind,
                                place="Paris, section J3", note=note, corrects=None,
                                clock=clock)


def logins(*, session: Session, settings: Settings) -> list[dict[str, str]]:
    """The demo users with their role, authority and API token, for `serve` to print."""
    secret = settings.secret_key.get_secret_value()
    rows = []
    for u in USERS:
        user = session.scalar(select(User).where(User.username == u.username))
        if user is None:
            continue
        authority = session.get(Authority, u.authority_id)
        rows.append({"username": u.username, "role": u.role.value,
                     "authority": authority.name if authority else u.authority_id,
                     "token": identity.demo_token(secret, u.username),
                     "password": DEMO_PASSWORD,
                     "totp_secret": demo_totp_secret(secret, u.username)})
    return rows
