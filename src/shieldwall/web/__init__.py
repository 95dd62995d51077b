"""The web console: pages for analysts, org-admins and the steering committee.

`mount.install(app)` adds the pages and their static files to the node's app.
"""
