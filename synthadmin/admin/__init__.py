"""The product's admin: every model admin, registered on the default site (``SynthadminSite``).

``django.contrib.admin`` imports this package once the models are ready (``autodiscover``).
"""

from django.contrib import admin

from checkins.models import CheckIn
from profiles.models import Profile
from synthadmin.admin.checkins import CheckInAdmin
from synthadmin.admin.profiles import ProfileAdmin
from synthadmin.admin.runs import SyntheticRunAdmin, SyntheticUserAdmin
from synthadmin.admin.scenarios import ScenarioAdmin
from synthadmin.models import Scenario, SyntheticRun, SyntheticUser

admin.site.register(Profile, ProfileAdmin)
admin.site.register(CheckIn, CheckInAdmin)
admin.site.register(SyntheticRun, SyntheticRunAdmin)
admin.site.register(SyntheticUser, SyntheticUserAdmin)
admin.site.register(Scenario, ScenarioAdmin)
