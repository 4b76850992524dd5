"""Mail in, against a real IMAP server: Debian's dovecot on loopback with TLS.

The server runs as a plain process (``dovecot -F``) from a generated minimal config: two
listeners on free loopback ports (implicit TLS and STARTTLS), users in a passwd-file,
maildirs on disk, a server certificate signed by a CA made here with the openssl CLI.
Messages arrive by IMAP APPEND. Without dovecot the tests skip, except under CI=true.

The files live in a ``mkdtemp`` directory under /tmp rather than pytest's ``tmp_path``:
dovecot's unprivileged processes (login, and the mail user, which may not be root) must
traverse the path, and /tmp/pytest-of-<user> is private (0700).
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from steward.helpdesk import services
from steward.helpdesk.email import inbound
from steward.helpdesk.email.models import (
    HelpdeskEmailSettings,
    InboundEmail,
    Mailbox,
    OutboundEmail,
    UnknownSender,
)
from steward.helpdesk.email.outbound import send_ticket_email
from steward.helpdesk.models import Attachment, Queue, Reply, Status, Ticket, Via
from steward.tenancy.models import Membership
from tests.helpdesk.conftest import T0, who
from tests.notify.conftest import email_channel, smtp  # noqa: F401  (the SMTP sink fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

USERS = 40  # accounts made up front: one per test, so tests never see each other's mail
PASSWORD = "imap-secret"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: install the Debian package dovecot-imapd)")
    pytest.skip(f"{reason}: apt-get install dovecot-imapd to run the IMAP tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(folder: Path) -> None:
    """A CA and a server certificate for localhost/127.0.0.1 signed by it."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=Steward test CA", cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost", cwd=folder,
    )  # fmt: skip
    (folder / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=folder,
    )  # fmt: skip


@dataclass
class Imap:
    imaps_port: int
    starttls_port: int
    ca_pem: str
    folder: Path
    next_user: int = 0

    def account(self) -> str:
        self.next_user += 1
        assert self.next_user <= USERS, "raise USERS"
        return f"user{self.next_user}"

    def client(self, user: str) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cadata=self.ca_pem)
        client = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context, timeout=5)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client(user)
        try:
            status, _ = client.append(folder, None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def flags(self, user: str, folder: str = "INBOX") -> list[bytes]:
        client = self.client(user)
        try:
            _, (count,) = client.select(folder)
            if count == b"0":
                return []
            _, data = client.fetch("1:*", "(FLAGS)")
            return [d for d in data if d]
        finally:
            client.logout()

    def unmark_seen(self, user: str) -> None:
        client = self.client(user)
        try:
            client.select("INBOX")
            client.store("1:*", "-FLAGS", r"(\Seen)")
        finally:
            client.logout()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Imap]:
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if binary is None:
        _missing("dovecot is not installed")
    if shutil.which("openssl") is None:
        _missing("the openssl CLI is not installed")
    folder = Path(tempfile.mkdtemp(prefix="steward-dovecot-"))
    folder.chmod(0o755)
    mail = folder / "mail"
    mail.mkdir()
    if os.geteuid() == 0:  # dovecot refuses mail access as uid 0
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
        login_user, internal_user = "dovenull", "dovecot"
        os.chown(mail, uid, gid)
    else:
        uid, gid = os.getuid(), os.getgid()
        login_user = internal_user = pwd.getpwuid(uid).pw_name
    _certificates(folder)
    (folder / "passwd").write_text(
        "".join(
            f"user{n}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{mail}/user{n}\n"
            for n in range(1, USERS + 1)
        )
    )
    imaps, starttls = _free_port(), _free_port()
    (folder / "dovecot.conf").write_text(
        f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
ssl = required
ssl_cert = <{folder}/server.pem
ssl_key = <{folder}/server.key
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder}/passwd
}}
userdb {{
  driver = passwd-file
  args = {folder}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {starttls}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(folder / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", imaps), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (folder / "dovecot.log").read_text()
                        if (folder / "dovecot.log").exists()
                        else ""
                    )
                    err = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"dovecot did not start: {err} {log}")
                time.sleep(0.05)
        yield Imap(imaps, starttls, (folder / "ca.pem").read_text(), folder)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def account(dovecot) -> str:
    return dovecot.account()


def make_mailbox(world, dovecot: Imap, user: str, **fields) -> Mailbox:
    values = {
        "organization": world.acme,
        "address": "help@acme.test",
        "host": "127.0.0.1",
        "port": dovecot.imaps_port,
        "username": user,
        "password": PASSWORD,
        "ca_certificates": dovecot.ca_pem,
        "timeout": 5.0,
        **fields,
    }
    return Mailbox.objects.create(**values)


@pytest.fixture
def mailbox(world, dovecot, account) -> Mailbox:
    return make_mailbox(world, dovecot, account)


def mail(
    sender: str = "requester@acme.test",
    subject: str = "Printer jammed",
    body: str = "The printer on floor 2 is jammed again.",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "help@acme.test"
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", None) or make_msgid(domain="mail.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def deliver(dovecot: Imap, box: Mailbox, message: EmailMessage) -> None:
    dovecot.append(box.username, message.as_bytes())


def poll(box: Mailbox) -> dict[str, int]:
    Mailbox.objects.filter(pk=box.pk).update(last_polled_at=None)
    return inbound.poll_mailboxes()


# ---------------------------------------------------------------- new mail


def test_new_mail_opens_a_ticket_for_the_requester_and_is_marked_seen(world, dovecot, mailbox):
    message = mail()
    deliver(dovecot, mailbox, message)
    assert poll(mailbox) == {"ticket": 1}
    ticket = Ticket.objects.get()
    assert ticket.subject == "Printer jammed"
    assert ticket.description.strip() == "The printer on floor 2 is jammed again."
    assert ticket.requester == world.requester and ticket.source == "email"
    assert ticket.email_message_id == message["Message-ID"]
    record = InboundEmail.objects.get()
    assert (record.status, record.ticket, record.mailbox) == ("ticket", ticket, mailbox)
    assert b"\\Seen" in dovecot.flags(mailbox.username)[0]
    mailbox.refresh_from_db()
    assert mailbox.last_error == "" and mailbox.last_success_at is not None


def test_an_html_only_mail_becomes_text_without_markup(world, dovecot, mailbox):
    message = mail()
    message.set_content(
        "<p>Screen is <b>black</b>.<script>alert(1)</script></p>"
        '<p><a href="https://acme.test/kb/1">see this</a></p>',
        subtype="html",
    )
    deliver(dovecot, mailbox, message)
    poll(mailbox)
    description = Ticket.objects.get().description
    assert "Screen is black." in description
    assert "[see this](<https://acme.test/kb/1>)" in description
    assert "<" not in description.replace("<https://acme.test/kb/1>", "")
    assert "alert" not in description


def test_attachments_are_kept_and_executables_refused(world, dovecot, mailbox, settings):
    message = mail()
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf",
                           filename="invoice.pdf")  # fmt: skip
    message.add_attachment(b"MZ\x90\x00 evil", maintype="application", subtype="octet-stream",
                           filename="setup.exe")  # fmt: skip
    deliver(dovecot, mailbox, message)
    assert poll(mailbox) == {"ticket": 1}
    (attachment,) = Attachment.objects.all()
    assert attachment.filename == "invoice.pdf" and attachment.size == len(b"%PDF-1.4 fake")
    assert attachment.ticket == Ticket.objects.get()
    assert "setup.exe" in InboundEmail.objects.get().error


# ---------------------------------------------------------------- replies


def test_a_reply_with_the_subject_reference_lands_on_the_ticket_without_quotes(
    world, dovecot, mailbox, ticket_of
):
    ticket = ticket_of()
    body = (
        "It is still jammed.\n\n"
        "On Mon, 2 Mar 2026 at 10:00, Acme help desk <help@acme.test> wrote:\n"
        "> We replaced the drum.\n"
    )
    deliver(dovecot, mailbox, mail(subject=f"Re: [#ACME-{ticket.number}] Printer", body=body))
    assert poll(mailbox) == {"reply": 1}
    reply = Reply.objects.get(ticket=ticket)
    assert reply.body == "It is still jammed."
    assert (reply.author, reply.via, reply.public) == (world.requester, Via.EMAIL, True)
    assert Ticket.objects.count() == 1


def test_a_reply_by_in_reply_to_lands_on_the_ticket_whatever_the_subject(world, dovecot, mailbox):
    first = mail()
    deliver(dovecot, mailbox, first)
    poll(mailbox)
    ticket = Ticket.objects.get()
    answer = mail(
        subject="new subject, no reference",
        body="Another detail:\n\n-----Original Message-----\nFrom: me\nold text",
        In_Reply_To=first["Message-ID"],
        References=first["Message-ID"],
    )
    deliver(dovecot, mailbox, answer)
    assert poll(mailbox) == {"reply": 1}
    assert Reply.objects.get(ticket=ticket).body == "Another detail:"
    assert Reply.objects.get().email_message_id == answer["Message-ID"]


def test_a_stranger_cannot_reply_on_someone_elses_ticket_by_reference(
    world, dovecot, mailbox, ticket_of
):
    ticket = ticket_of()
    deliver(dovecot, mailbox, mail(sender="viewer@acme.test",
                                   subject=f"[#ACME-{ticket.number}] hi"))  # fmt: skip
    Membership.objects.filter(user=world.viewer).update(role="requester")
    poll(mailbox)
    assert not Reply.objects.filter(ticket=ticket).exists()
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert new.requester == world.viewer and f"Follow-up to [#ACME-{ticket.number}]" in (
        new.description
    )


def test_another_organizations_reference_is_not_followed(world, dovecot, mailbox, ticket_of):
    ticket = ticket_of()
    deliver(dovecot, mailbox, mail(subject=f"Re: [#GLOBEX-{ticket.number}] other"))
    assert poll(mailbox) == {"ticket": 1}
    assert not Reply.objects.exists()


# ---------------------------------------------------------------- automatic mail and loops


def test_auto_replies_bounces_and_our_own_mail_are_ignored(world, dovecot, mailbox, ticket_of):
    ticket = ticket_of()
    ours = OutboundEmail.objects.create(
        organization=world.acme, ticket=ticket, kind="reply", to_address="requester@acme.test",
        message_id="<ours.1@acme.test>", subject="x", text="x",
    )  # fmt: skip
    automatic = [
        mail(subject="Out of office", Auto_Submitted="auto-replied"),
        mail(subject="Automatic reply", X_Auto_Response_Suppress="All"),
        mail(subject="Newsletter", Precedence="bulk"),
        mail(subject="Undeliverable", Return_Path="<>"),
        mail(sender="MAILER-DAEMON@mx.acme.test", subject="Delivery failure"),
        mail(subject="copy of ours", message_id=ours.message_id),
        mail(sender="help@acme.test", subject="from ourselves"),
    ]
    for message in automatic:
        deliver(dovecot, mailbox, message)
    assert poll(mailbox) == {"ignored": 7}
    reasons = sorted(InboundEmail.objects.values_list("reason", flat=True))
    assert reasons == sorted(
        ["auto-submitted", "auto-response-suppress", "precedence", "bounce", "bounce", "loop",
         "loop"]
    )  # fmt: skip
    assert Ticket.objects.count() == 1 and not Reply.objects.exists()


# ---------------------------------------------------------------- unknown senders


def test_an_unknown_sender_becomes_a_requester_with_policy_create(world, dovecot, mailbox):
    deliver(dovecot, mailbox, mail(sender="Zoe New <zoe@customer.test>"))
    poll(mailbox)
    ticket = Ticket.objects.get()
    assert ticket.requester.email == "zoe@customer.test" and ticket.requester.name == "Zoe New"
    assert not ticket.requester.has_usable_password()
    membership = Membership.objects.get(user=ticket.requester)
    assert (membership.organization, membership.role) == (world.acme, "requester")


def test_an_unknown_sender_is_dropped_silently_with_policy_ignore(world, dovecot, account):
    box = make_mailbox(world, dovecot, account, unknown_sender=UnknownSender.IGNORE)
    deliver(dovecot, box, mail(sender="zoe@customer.test"))
    assert poll(box) == {"ignored": 1}
    assert not Ticket.objects.exists()
    assert InboundEmail.objects.get().reason == "unknown-sender"


def test_an_unknown_sender_lands_in_the_triage_queue_with_policy_triage(world, dovecot, account):
    triage = Queue.objects.create(organization=world.acme, name="Triage")
    box = make_mailbox(
        world, dovecot, account, unknown_sender=UnknownSender.TRIAGE, triage_queue=triage
    )
    deliver(dovecot, box, mail(sender="Zoe <zoe@customer.test>"))
    poll(box)
    ticket = Ticket.objects.get()
    assert ticket.requester is None and ticket.queue == triage
    assert ticket.description.startswith("From: Zoe <zoe@customer.test>")
    assert not Membership.objects.filter(user__email="zoe@customer.test").exists()


# ---------------------------------------------------------------- robustness


def test_a_message_fetched_twice_is_processed_once(world, dovecot, mailbox):
    deliver(dovecot, mailbox, mail())
    poll(mailbox)
    dovecot.unmark_seen(mailbox.username)  # as if we crashed before marking it
    assert poll(mailbox) == {"ticket": 1}  # the earlier record, nothing new
    assert Ticket.objects.count() == 1 and InboundEmail.objects.count() == 1


def test_processed_mail_is_moved_when_the_mailbox_says_so(world, dovecot, account):
    box = make_mailbox(world, dovecot, account, processed_folder="Processed")
    deliver(dovecot, box, mail())
    poll(box)
    assert dovecot.flags(account) == []  # INBOX empty
    assert len(dovecot.flags(account, "Processed")) == 1


def test_a_bad_message_is_recorded_and_skipped(world, dovecot, mailbox, monkeypatch):
    real = inbound._new_ticket

    def explode(box, sender, parsed, now, follows):
        if parsed.subject == "boom":
            raise RuntimeError("a bug")
        return real(box, sender, parsed, now, follows)

    monkeypatch.setattr(inbound, "_new_ticket", explode)
    deliver(dovecot, mailbox, mail(subject="boom"))
    deliver(dovecot, mailbox, mail(subject="fine"))
    assert poll(mailbox) == {"failed": 1, "ticket": 1}
    failed = InboundEmail.objects.get(status="failed")
    assert "RuntimeError: a bug" in failed.error
    assert Ticket.objects.get().subject == "fine"
    assert all(b"\\Seen" in f for f in dovecot.flags(mailbox.username))


# ---------------------------------------------------------------- TLS and login


def test_a_self_signed_server_is_refused_without_its_ca(world, dovecot, account):
    box = make_mailbox(world, dovecot, account, ca_certificates="")
    deliver(dovecot, box, mail())
    assert poll(box) == {"mailbox_errors": 1}
    box.refresh_from_db()
    assert "certificate not trusted" in box.last_error
    assert not Ticket.objects.exists()


def test_starttls_with_the_private_ca_is_accepted(world, dovecot, account):
    box = make_mailbox(world, dovecot, account, port=dovecot.starttls_port, security="starttls")
    deliver(dovecot, box, mail())
    assert poll(box) == {"ticket": 1}


def test_a_wrong_password_is_recorded_on_the_mailbox(world, dovecot, account):
    box = make_mailbox(world, dovecot, account, password="wrong")
    assert poll(box) == {"mailbox_errors": 1}
    box.refresh_from_db()
    assert "login refused" in box.last_error
    assert box.describe()["password"] == "********"


def test_a_mailbox_is_not_polled_before_its_interval(world, dovecot, mailbox):
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=T0)
    deliver(dovecot, mailbox, mail())
    assert inbound.poll_mailboxes(now=T0.replace(second=30)) == {}
    assert not Ticket.objects.exists()


# ---------------------------------------------------------------- end to end


def test_requester_mail_technician_reply_and_the_answer_reopen_the_ticket(
    world,
    dovecot,
    mailbox,
    smtp,  # noqa: F811
):
    HelpdeskEmailSettings.objects.create(
        organization=world.acme, channel=email_channel(world, smtp), from_address="help@acme.test"
    )
    # 1. the requester writes in
    deliver(dovecot, mailbox, mail(subject="VPN down", body="Cannot connect since 9:00."))
    poll(mailbox)
    ticket = Ticket.objects.get()
    # 2. a technician answers in the console and resolves
    services.add_reply(who(world.technician), ticket, "Please restart the client.")
    services.set_status(who(world.technician), ticket, Status.RESOLVED)
    assert send_ticket_email() == {"sent": 3}  # acknowledgement, reply, resolved notice
    by_kind = {m["X-Steward-Ticket"] + (m["Auto-Submitted"] or "reply"): m
               for _, _, m in smtp.messages}  # fmt: skip
    answer = by_kind[f"{ticket.pk}reply"]
    assert answer["To"] == "requester@acme.test"
    assert answer["Subject"] == f"Re: [#ACME-{ticket.number}] VPN down"
    assert answer["In-Reply-To"]  # threads under the requester's mail or our acknowledgement
    assert ticket.email_message_id in answer["References"]
    assert answer["Reply-To"] == "help@acme.test"
    assert "Please restart the client." in answer.get_body(("plain",)).get_content()
    # 3. the requester answers THAT email, without the reference in the subject
    response = mail(
        subject="still broken",
        body=f"Still broken.\n\n{'> Please restart the client.'}",
        In_Reply_To=answer["Message-ID"],
        References=f"{answer['References']} {answer['Message-ID']}",
    )
    deliver(dovecot, mailbox, response)
    assert poll(mailbox) == {"reply": 1}
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN  # reopened by the requester's reply
    assert Reply.objects.filter(ticket=ticket).last().body == "Still broken."
    assert Ticket.objects.count() == 1


# ---------------------------------------------------------------- the connection test


def test_the_connection_test_logs_in_and_touches_no_mail(world, api, dovecot, account):
    box = make_mailbox(world, dovecot, account, processed_folder="Processed")
    deliver(dovecot, box, mail())
    r = api.as_(world.admin).post(f"helpdesk/mailboxes/{box.pk}/test")
    assert r.status_code == 200
    result = r.json()
    assert (result["ok"], result["messages"]) == (True, 1)
    assert "folder Processed does not exist yet" in result["message"]
    assert [b"\\Seen" in f for f in dovecot.flags(account)] == [False]
    client = dovecot.client(account)
    try:
        _, folders = client.list()
    finally:
        client.logout()
    assert not [f for f in folders if f and b"Processed" in f]  # not created by a test
    assert not InboundEmail.objects.exists()


def test_the_connection_test_names_the_cause(world, api, dovecot, account):
    cases = [
        ({"password": "wrong"}, "imap login refused"),
        ({"ca_certificates": ""}, "imap: certificate not trusted"),
        ({"folder": "Nope"}, "imap examine:"),
    ]
    for fields, cause in cases:
        box = make_mailbox(world, dovecot, account, address=f"{len(fields)}@acme.test", **fields)
        result = api.as_(world.admin).post(f"helpdesk/mailboxes/{box.pk}/test").json()
        assert result["ok"] is False
        assert result["message"].startswith(cause), result
        box.delete()
