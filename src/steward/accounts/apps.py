from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "steward.accounts"
    label = "accounts"

    def ready(self) -> None:
        from steward.accounts.models import ApiToken, User
        from steward.audit import registry

        registry.register(
            User, secret_fields={"password", "totp_secret"}, ignore_fields={"last_login"}
        )
        registry.register(ApiToken, secret_fields={"token_hash"}, ignore_fields={"last_used_at"})
