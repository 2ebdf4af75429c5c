"""The course's administration around grading: from Canvas's download to grades and feedback back.

    collect      Canvas's bulk download (or one folder or zip per submission), one Submission each
    staging      a submission's files taken in under bounds: no link followed, no pipe read
    groups       Canvas's group-set export: pairs graded once, every member given the result
    lateness     the handout's late penalty, said as a person would
    gradebook    points, the TA's marks, the detailed gradebook and Canvas's import file
    feedback     feedback per student (Markdown, and PDF for Canvas's re-upload), the table
    quoting      a submission's text as data in every output
"""
