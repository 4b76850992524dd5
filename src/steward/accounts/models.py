"""Users (email login), API tokens and failed-login records."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from steward.accounts import tokens
from steward.tenancy.roles import CHOICES, Role


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("a user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Staff superusers see every organization."
    )
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for a person or an integration. Only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    role = models.CharField(
        max_length=20,
        choices=CHOICES,
        blank=True,
        help_text="Role ceiling; empty = the user's own roles.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def role_ceiling(self) -> Role | None:
        return Role(self.role) if self.role else None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    @classmethod
    def issue(
        cls,
        user: User,
        name: str,
        role: Role | None = None,
        expires_in: timedelta | None = None,
    ) -> tuple[ApiToken, str]:
        """Create a token; return it with the secret, which is never retrievable again."""
        secret = tokens.new_secret(tokens.API_TOKEN_PREFIX)
        token = cls.objects.create(
            user=user,
            name=name,
            token_hash=tokens.hash_secret(secret),
            prefix=tokens.display_prefix(secret),
            role=role.value if role else "",
            expires_at=timezone.now() + expires_in if expires_in else None,
        )
        return token, secret

    @classmethod
    def authenticate(cls, secret: str) -> ApiToken | None:
        if not secret.startswith(tokens.API_TOKEN_PREFIX):
            return None
        token = (
            cls.objects.usable()
            .select_related("user")
            .filter(token_hash=tokens.hash_secret(secret))
            .first()
        )
        if token is not None:
            # Written at most once a minute: a busy integration must not turn every read
            # into a write.
            now = timezone.now()
            if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
                cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token


class LoginFailure(models.Model):
    """One failed sign-in, kept for throttling (shared by all server replicas via the DB)."""

    email = models.CharField(max_length=254, db_index=True)
    address = models.GenericIPAddressField(null=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.email} from {self.address} at {self.at:%Y-%m-%d %H:%M:%S}"
