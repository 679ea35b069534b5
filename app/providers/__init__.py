"""Notification providers: one small interface (`base.Provider`), one module per provider."""
