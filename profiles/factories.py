"""factory_boy factories for synthetic profiles (patients and therapists).

Factories *build* unsaved ``Profile`` objects; the service layer persists them, after it has
created each profile's Auth user (profiles reference ``auth.users``). Everything synthetic has
``is_test_patient=True``. Names come from Faker (``pt_BR`` by default: the app's users are
Brazilian); e-mails only ever use reserved domains and are unique by construction: a run tag
(unique per run) plus a per-run sequence number, never ``fake.unique``.

Reproducible: ``factory.random.reseed_random(seed)`` seeds both factory_boy and Faker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import factory

from profiles.identities import DEFAULT_LOCALE, ascii_slug, synthetic_email
from profiles.models import Profile


class ProfileFactory(factory.django.DjangoModelFactory[Profile]):
    """A synthetic profile. Use ``ProfileFactory.build(patient=True)`` / ``(therapist=True)``;
    names are Brazilian unless ``locale=`` says otherwise."""

    class Meta:
        model = Profile

    class Params:
        run_tag = "manual00"
        email_domain = "example.com"
        number = factory.Sequence(lambda n: n)
        locale = DEFAULT_LOCALE
        first_name = factory.Faker("first_name", locale=factory.SelfAttribute("..locale"))
        last_name = factory.Faker("last_name", locale=factory.SelfAttribute("..locale"))
        patient = factory.Trait(role=Profile.Role.PATIENT)
        therapist = factory.Trait(role=Profile.Role.THERAPIST)

    id = factory.LazyFunction(uuid.uuid4)
    # Not a column: kept on the built object for the Auth user's metadata (``name``).
    full_name = factory.LazyAttribute(lambda o: f"{o.first_name} {o.last_name}")
    role = Profile.Role.PATIENT
    username = factory.LazyAttribute(lambda o: f"{ascii_slug(o.first_name)}.{ascii_slug(o.last_name)}")
    email = factory.LazyAttribute(
        lambda o: synthetic_email(
            username=o.username, run_tag=o.run_tag, number=o.number, domain=o.email_domain
        )
    )
    is_test_patient = True

    @classmethod
    def _build(cls, model_class: type[Profile], *args: object, **kwargs: object) -> Profile:
        return cls._named(super()._build, model_class, *args, **kwargs)

    @classmethod
    def _create(cls, model_class: type[Profile], *args: object, **kwargs: object) -> Profile:
        return cls._named(super()._create, model_class, *args, **kwargs)

    @staticmethod
    def _named(
        make: Callable[..., Profile], model_class: type[Profile], *args: object, **kwargs: object
    ) -> Profile:
        """What ``make`` (factory_boy's build or create) returns, with ``full_name`` set on it."""
        full_name = kwargs.pop("full_name")
        profile = make(model_class, *args, **kwargs)
        profile.full_name = full_name  # type: ignore[attr-defined]  # not a column (see full_name above)
        return profile
