def test_listing_and_detail(client, make_book):
    book = make_book("The Silent Garden", authors=("Mara Quill",))
    r = client.get("/books?q=garden")
    assert r.status_code == 200
    assert b"The Silent Garden" in r.data
    r = client.get(f"/books/{book.id}")
    assert r.status_code == 200 and b"Mara Quill" in r.data


def test_nul_bytes_in_input_get_a_400_not_a_500(client, admin_client):
    assert client.get("/books?q=%00").status_code == 400
    assert admin_client.get("/admin/users?q=a%00b").status_code == 400
    assert client.post("/login", data={"login": "x\x00", "password": "y"}).status_code == 400
