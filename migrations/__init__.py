"""Numbered schema migrations, applied in order by ``newremora migrate`` (see app/migrate.py).

Each module ``NNNN_name.py`` defines ``apply(database)``. Migrations describe the schema as it was when
they were written (frozen models), never by importing ``app.models``, which moves on.
"""
