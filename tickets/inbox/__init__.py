"""The agents' inbox: views of the ticket list, saved views, counts, keyset pages, bulk actions."""
