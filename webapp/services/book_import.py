"""CSV import of books (background task runner "import:books")."""
