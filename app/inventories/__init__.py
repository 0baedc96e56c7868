"""Ansible inventories of the user's own: parsed by Ansible (``parse``), imported as servers and groups
(``importer``), exported back (``export``), and imported from a terminal (``cli``)."""
