def test_listing_and_detail(client, make_book):
    book = make_book("The Silent Garden", authors=("Mara Quill",))
    r = client.get("/books?q=garden")
    assert r.status_code == 200
    assert b"The Silent Garden" in r.data
    r = client.get(f"/books/{book.id}")
    assert r.status_code == 200 and b"Mara Quill" in r.data
